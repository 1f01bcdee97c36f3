/**
 * Trying the live policy: `POST /v1/policy/evaluate` says what the policy in force would decide for a sample request,
 * without submitting, recording or notifying anything.
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

export const policyRoutes = {
  evaluatePolicy: {
    method: 'POST',
    url: '/v1/policy/evaluate',
    scope: 'audit',
    schema: { body: evaluateBody, response: { 200: evaluateAnswer, ...authErrors } },
  },
} as const;
