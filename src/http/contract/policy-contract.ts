/**
 * The policy through the API: `GET /v1/policy` reads the policy in force (its version, groups and rules in evaluation
 * order; scope `audit` or `read`, so agents and their builders see what their requests will meet; the policy's `people`
 * are not shown, the directory's admin API is where people are read), and `POST /v1/policy/evaluate` says what it would
 * decide for a sample request without submitting, recording or notifying anything.
 */
import { z } from 'zod';
import { REASON_MODES, REQUESTER_TYPES, RISKS } from '../../domain/policy';
import { authErrors, identityFields } from './common-schemas';

export const evaluateBody = z
  .object({
    action: z.string().trim().min(1).max(200),
    resource: z.string().trim().min(1).max(1000),
    requester: z.object({ id: z.string().trim().min(1).max(200), type: z.enum(REQUESTER_TYPES), email: identityFields.email }).strict(),
    onBehalfOf: z.object({ email: identityFields.email, slackUserId: identityFields.slackUserId, teamsUserId: identityFields.teamsUserId }).strict().optional(),
    environment: z.string().trim().min(1).max(100).optional(),
    risk: z.enum(RISKS).optional(),
    apiKeyOwner: z.string().trim().min(1).max(320).optional().describe('Person id or identity of the submitting key’s owner, to see who could not approve.'),
  })
  .strict()
  .meta({ id: 'PolicyEvaluation' });

const member = z.object({ id: z.string(), name: z.string() });

export const evaluateAnswer = z
  .object({
    policy: z.object({ hash: z.string(), rules: z.number() }),
    rule: z.string(),
    ruleIndex: z.number().describe('Position of the matching rule (the default rule is last).'),
    outcome: z.enum(['approve', 'deny', 'require']),
    message: z.string().nullable(),
    assumedRisk: z.enum(RISKS).nullable().describe('Set when the sample stated no risk and a rule tried read it as the policy’s missingRisk.'),
    ttlSeconds: z.number().nullable(),
    grantTtlSeconds: z.number().nullable(),
    requirement: z
      .object({
        approvers: z.array(z.string()),
        approvals: z.number(),
        reason: z.enum(REASON_MODES),
        channels: z.array(z.string()),
        members: z.array(member).describe('Who could approve now (directory people of the approver groups).'),
        excluded: z.array(member).describe('Members who could not approve this sample: its requester, the person it is on behalf of, the key owner.'),
      })
      .nullable(),
  })
  .meta({ id: 'PolicyEvaluationResult' });

export const policyRule = z
  .looseObject({
    name: z.string(),
    description: z.string().optional(),
    outcome: z.enum(['approve', 'deny', 'require']),
    match: z.record(z.string(), z.unknown()).describe('The conditions a request must meet (globs and lists); empty: every request.'),
  })
  .describe('One rule as the policy file states it (durations in seconds); further keys depend on the outcome (approvers, approvals, stages, budget, remind, escalate, …).')
  .meta({ id: 'PolicyRule' });

export const policyInForce = z
  .object({
    hash: z.string().describe('SHA-256 (hex) of the policy text: the `policyHash` every request records.'),
    activatedAt: z.string().describe('When this version was put in force (ISO 8601).'),
    source: z.string().describe('What put it in force: `start`, `reload` (the file changed) or `sighup`.'),
    file: z.string().describe('The policy file the service reads.'),
    missingRisk: z.enum(['low', 'medium', 'high', 'critical']),
    groups: z.record(z.string(), z.array(z.string())).describe('Approver groups: member references (person ids or identities).'),
    rules: z.array(policyRule).describe('In evaluation order; the last is the default.'),
  })
  .meta({ id: 'PolicyInForce' });

export const policyRoutes = {
  getPolicy: { method: 'GET', url: '/v1/policy', scope: ['audit', 'read'], schema: { response: { 200: policyInForce, ...authErrors } } },
  evaluatePolicy: {
    method: 'POST',
    url: '/v1/policy/evaluate',
    scope: 'audit',
    schema: { body: evaluateBody, response: { 200: evaluateAnswer, ...authErrors } },
  },
} as const;
