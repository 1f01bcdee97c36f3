/**
 * The policy in force, read-only: its version (hash, when and why it was put in force), its approver groups and its
 * rules in evaluation order. Scope `audit` or `read`: agents and their builders see what their requests will meet.
 * The policy's `people` are not shown (the directory's admin API is where people are read).
 */
import { z } from 'zod';
import { authErrors } from './common-schemas';

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
} as const;
