/**
 * The lineage of an agent run: every request sharing a trace (or linked to one request by `parentRequestId`), as a
 * graph with its decisions, grants, grant uses and outcome reports, and one timeline of all of it. `traceId` and
 * `parentRequestId` are the submitting agent's claims: the graph shows what the agents said about their runs.
 */
import { z } from 'zod';
import { REQUEST_STATUSES } from '../../domain/request-lifecycle';
import { REQUESTER_TYPES, RISKS } from '../../domain/policy';
import { UUID_PATTERN } from '../../domain/ids';
import { authErrors, errorEnvelope, personOut } from './common-schemas';

export const lineageQuery = z
  .object({
    traceId: z.string().trim().min(1).max(200).optional(),
    requestId: z.string().regex(UUID_PATTERN, 'must be a request id (UUID)').optional(),
  })
  .strict()
  .refine((q) => Boolean(q.traceId) !== Boolean(q.requestId), { message: 'give exactly one of traceId or requestId', path: ['traceId'] });

export const LINEAGE_EVENT_KINDS = ['submitted', 'vote', 'decided', 'grant_used', 'outcome'] as const;

export const lineageRequest = z
  .object({
    id: z.string(),
    parentRequestId: z.string().nullable().describe('The agent’s claim: the request this one was made under.'),
    traceId: z.string().nullable(),
    children: z.array(z.string()).describe('Requests of the graph that name this one as their parent.'),
    action: z.string(),
    resource: z.string(),
    requester: z.object({ id: z.string(), type: z.enum(REQUESTER_TYPES) }),
    submittedBy: z.string().describe('Name of the API key that submitted it.'),
    status: z.enum(REQUEST_STATUSES),
    risk: z.enum(RISKS).nullable(),
    environment: z.string().nullable(),
    policy: z.object({ rule: z.string(), outcome: z.string() }),
    createdAt: z.string(),
    expiresAt: z.string(),
    votes: z.array(z.object({ person: z.string(), approver: personOut, channel: z.string(), decision: z.enum(['approve', 'deny']), reason: z.string().nullable(), at: z.string() })),
    decision: z.object({ status: z.enum(REQUEST_STATUSES), by: z.string().nullable(), reason: z.string().nullable(), at: z.string() }).nullable(),
    grant: z.object({ issuedAt: z.string(), expiresAt: z.string() }).nullable().describe('Approved requests: the window of their approval grant.'),
    grantUse: z.object({ usedAt: z.string(), key: z.string() }).nullable(),
    outcome: z.object({ status: z.string(), detail: z.string().nullable(), reportedAt: z.string().nullable() }).nullable(),
  })
  .meta({ id: 'LineageRequest' });

export const lineageGraph = z
  .object({
    traceId: z.string().nullable().describe('The trace asked for, or the trace of the request asked for.'),
    roots: z.array(z.string()).describe('Requests of the graph without a parent in it.'),
    requests: z.array(lineageRequest).describe('Oldest first.'),
    edges: z.array(z.object({ parent: z.string(), child: z.string() })),
    timeline: z.array(z.object({ at: z.string(), requestId: z.string(), kind: z.enum(LINEAGE_EVENT_KINDS), summary: z.string() })).describe('Everything that happened, in time order.'),
    truncated: z.boolean().describe('True when the run has more requests than one answer holds.'),
  })
  .meta({ id: 'Lineage' });

export const lineageRoutes = {
  getLineage: {
    method: 'GET',
    url: '/v1/lineage',
    // A read key sees the requests it submitted; audit (and decide/attest) keys every request.
    scope: ['read', 'audit'],
    schema: { querystring: lineageQuery, response: { 200: lineageGraph, 404: errorEnvelope, ...authErrors } },
  },
} as const;
