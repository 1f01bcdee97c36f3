/**
 * Standing approvals' contract: the list of standing approvals, and revocation by an approver of the rule each was
 * granted under. (A standing approval is created with an approval: `standing` in the decision body.)
 */
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from '../../domain/duration';
import { UUID_PATTERN } from '../../domain/ids';
import { authErrors, errorEnvelope, identityFields } from './common-schemas';

/** `standing` in a decision body: also approve the same action on this resource by this requester, for a while / n uses. */
export const standingAsk = z
  .object({
    for: z
      .string()
      .refine((v) => parseDuration(v) !== undefined, `must be ${DURATION_HINT}`)
      .describe('How long it lasts, e.g. `15m` (at most the rule’s `standing.maxFor`).'),
    uses: z.number().int().min(1).max(10_000).describe('How many later requests it may approve (at most the rule’s `standing.maxUses`).'),
  })
  .strict()
  .describe('Approve this request and, at once, later requests with the same rule, action, resource, environment and requester, within the rule’s bounds. Only for rules that allow standing approvals and that one approval decides.');

export const standingApprovalOut = z
  .object({
    id: z.string(),
    requestId: z.string().describe('The request whose approval granted it.'),
    rule: z.string(),
    action: z.string(),
    resource: z.string(),
    environment: z.string().nullable(),
    requester: z.object({ id: z.string(), type: z.string() }),
    grantedBy: z.object({ person: z.string(), label: z.string() }),
    maxUses: z.number(),
    usesLeft: z.number(),
    createdAt: z.string(),
    expiresAt: z.string(),
    revokedAt: z.string().nullable(),
    revokedBy: z.string().nullable().describe('Person id of who revoked it.'),
    active: z.boolean().describe('Usable now: not revoked, not expired, uses left.'),
  })
  .meta({ id: 'StandingApproval' });

export const listStandingQuery = z
  .object({
    all: z.enum(['true', 'false']).optional().describe('`true` also lists revoked, expired and used-up ones.'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

export const standingIdParams = z.object({ id: z.string().regex(UUID_PATTERN, 'must be a standing approval id (UUID)') });

/** `POST /v1/standing-approvals/:id/revoke`: a `decide` key acts as its owner; an `attest` key names the approver. */
export const revokeStandingBody = z
  .object({
    approver: z
      .object(identityFields)
      .strict()
      .refine((p) => p.email || p.slackUserId || p.teamsUserId, { message: 'needs at least one of email, slackUserId or teamsUserId' })
      .optional(),
    reason: z.string().trim().min(1).max(2000).optional(),
  })
  .strict();

export const standingRoutes = {
  listStandingApprovals: {
    method: 'GET',
    url: '/v1/standing-approvals',
    scope: ['decide', 'attest', 'audit'],
    schema: { querystring: listStandingQuery, response: { 200: z.object({ items: z.array(standingApprovalOut) }).meta({ id: 'StandingApprovalList' }), ...authErrors } },
  },
  revokeStandingApproval: {
    method: 'POST',
    url: '/v1/standing-approvals/:id/revoke',
    scope: ['decide', 'attest'],
    schema: { params: standingIdParams, body: revokeStandingBody.optional(), response: { 200: standingApprovalOut, 404: errorEnvelope, 409: errorEnvelope, ...authErrors } },
  },
} as const;
