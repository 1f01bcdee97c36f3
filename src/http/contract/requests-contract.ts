/**
 * The API channel's contract: intake, reads, long-poll, decisions, cancellation and outcome reports. Field names are
 * public API. Every field of an intake body is the submitting agent's claim.
 */
import { z } from 'zod';
import { standingAsk } from './standing-approvals-contract';
import { REQUEST_STATUSES } from '../../domain/request-lifecycle';
import { REASON_MODES, REQUESTER_TYPES, RISKS } from '../../domain/policy';
import { authErrors, errorEnvelope, identityFields, personOut, requestIdParams } from './common-schemas';

const requesterSchema = z
  .object({
    id: z.string().trim().min(1).max(200).optional().describe('Required unless the API key pins it.'),
    ...identityFields,
    type: z.enum(REQUESTER_TYPES).optional().describe('Required unless the API key pins it.'),
    model: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

const onBehalfOfSchema = z
  .object({ id: z.string().trim().min(1).max(200).optional(), ...identityFields })
  .strict()
  .refine((p) => p.email || p.slackUserId || p.teamsUserId || p.id, { message: 'needs at least one of email, slackUserId, teamsUserId or id' });

const contextValue = z.union([z.string().max(2000), z.number().finite(), z.boolean()]);

/** `POST /v1/requests` body. */
export const submitRequestBody = z
  .object({
    action: z.string().trim().min(1).max(200).regex(/^[A-Za-z0-9_.:/-]+$/, 'use letters, digits and . _ : / -'),
    resource: z.string().trim().min(1).max(1000),
    requester: requesterSchema,
    onBehalfOf: onBehalfOfSchema.optional(),
    justification: z.string().trim().min(1).max(4000).optional(),
    context: z
      .record(z.string().min(1).max(100), contextValue)
      .refine((c) => Object.keys(c).length <= 50, { message: 'at most 50 context entries' })
      .optional(),
    risk: z.enum(RISKS).optional(),
    environment: z.string().trim().min(1).max(100).optional(),
    expiresInSeconds: z.number().int().min(60).optional(),
    callbackUrl: z
      .string()
      .url()
      .max(2000)
      .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http(s) URL' })
      .optional(),
    traceId: z.string().trim().min(1).max(200).optional(),
    parentRequestId: z.string().uuid().optional(),
  })
  .strict()
  .meta({ id: 'SubmitRequest' });

/** Headers intake reads. Idempotency: the same key and body return the original answer, another body 409. */
export const submitRequestHeaders = z.object({
  'idempotency-key': z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces').optional(),
});

const links = z.object({ self: z.string(), wait: z.string(), decisions: z.string(), cancel: z.string(), outcome: z.string(), audit: z.string() });

/** `POST /v1/requests` answer (202). */
export const intakeAnswer = z
  .object({
    id: z.string(),
    status: z.enum(['pending', 'approved', 'denied']),
    expiresAt: z.string(),
    rule: z.string(),
    reason: z.string().optional(),
    budgetExhausted: z.boolean().optional().describe('True when the matched routine rule’s budget was spent: the request waits for approvers.'),
    links,
  })
  .meta({ id: 'IntakeAnswer' });

const quorumOut = z.object({ group: z.string().nullable().describe('null: any member of the stage’s groups.'), count: z.number() });
/** What a request must satisfy, as snapshotted at intake (see Requirement in src/domain/policy.ts). */
const requirementOut = z
  .object({
    approvers: z.array(z.string()),
    members: z.array(z.string()),
    approvals: z.number().describe('Approvals needed in all (over every stage and group).'),
    channels: z.array(z.string()),
    reason: z.enum(REASON_MODES),
    stages: z
      .array(z.object({ name: z.string().optional(), approvers: z.array(z.string()), quorum: z.array(quorumOut), members: z.array(z.string()), groupMembers: z.record(z.string(), z.array(z.string())), channels: z.array(z.string()) }))
      .optional()
      .describe('Per-group quorums and ordered stages (stage n+1 is asked once stage n approved); absent on a plain rule.'),
    standing: z.object({ maxForSeconds: z.number(), maxUses: z.number() }).optional().describe('Bounds of the standing approvals an approver may give; absent: none.'),
    alwaysAsk: z.boolean().optional(),
    remindSeconds: z.array(z.number()).optional(),
    escalate: z.object({ afterSeconds: z.number(), to: z.array(z.string()), members: z.array(z.string()), channels: z.array(z.string()) }).optional(),
    warnBeforeExpirySeconds: z.number().optional(),
    budgetExhausted: z
      .object({ rule: z.string(), count: z.number(), perSeconds: z.number(), windowStart: z.string(), windowEnd: z.string(), then: z.string().nullable() })
      .optional()
      .describe('The request matched a routine rule whose budget was spent in this window, so people decide.'),
  })
  .meta({ id: 'Requirement' });

const storedContextValue = z.union([z.string(), z.number(), z.boolean(), z.object({ sha256: z.string() })]);

/** A request as `GET /v1/requests/:id` returns it. */
export const requestDetail = z
  .object({
    id: z.string(),
    status: z.enum(REQUEST_STATUSES),
    action: z.string(),
    resource: z.string(),
    requester: personOut.extend({ id: z.string(), type: z.enum(REQUESTER_TYPES), model: z.string().optional() }),
    onBehalfOf: personOut.nullable(),
    justification: z.string().nullable(),
    context: z.record(z.string(), storedContextValue).describe('Sensitive values appear only as `{ sha256 }`.'),
    risk: z.enum(RISKS).nullable(),
    environment: z.string().nullable(),
    traceId: z.string().nullable(),
    parentRequestId: z.string().nullable(),
    callbackUrl: z.string().nullable(),
    submittedBy: z.object({ apiKey: z.string(), owner: z.string().nullable() }),
    people: z
      .object({ requester: z.string().nullable(), onBehalfOf: z.string().nullable(), keyOwner: z.string().nullable() })
      .describe('Person ids the request was resolved to at intake (what self-approval compares).'),
    pinnedFields: z.array(z.string()).describe('Fields taken from the submitting key; every other field is asserted by the agent.'),
    policy: z.object({
      rule: z.string(),
      outcome: z.string(),
      hash: z.string(),
      requirement: requirementOut.nullable(),
    }),
    approvals: z.object({ required: z.number(), received: z.number() }),
    votes: z.array(
      z.object({
        approver: personOut,
        personKey: z.string().describe('The voter’s person id.'),
        channel: z.string(),
        decision: z.enum(['approve', 'deny']),
        reason: z.string().nullable(),
        at: z.string(),
        attestedBy: z.string().nullable().describe('The API key that attested this vote for the person, if one did.'),
      }),
    ),
    deliveries: z.array(
      z.object({ kind: z.string(), target: z.string(), status: z.string(), attempts: z.number(), lastError: z.string().nullable(), updatedAt: z.string() }),
    ),
    createdAt: z.string(),
    expiresAt: z.string(),
    decidedAt: z.string().nullable(),
    decidedBy: z.string().nullable(),
    decisionReason: z.string().nullable(),
    standingApprovalId: z.string().nullable().describe('The standing approval that approved this request at once, when one did (see /v1/standing-approvals).'),
    outcomeReport: z.unknown(),
    grant: z.string().nullable().describe('Approved requests only: the approval grant, a compact JWS (EdDSA) the executor verifies against /.well-known/jwks.json and uses once (POST /v1/grants/use).'),
    grantUse: z.object({ usedAt: z.string(), key: z.string() }).nullable(),
    links,
  })
  .meta({ id: 'Request' });

/** `GET /v1/requests/:id` query: `wait` long-polls up to the server's MAX_WAIT_SECONDS. */
export function waitQuery(maxWaitSeconds: number) {
  return z.object({ wait: z.coerce.number().min(0).max(maxWaitSeconds).optional() }).strict();
}

/** `GET /v1/requests` query. */
export const listRequestsQuery = z
  .object({
    status: z.enum(REQUEST_STATUSES).optional(),
    action: z.string().min(1).optional(),
    requester: z.string().min(1).optional(),
    traceId: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().min(1).optional(),
  })
  .strict();

export const requestPage = z.object({ items: z.array(requestDetail), nextCursor: z.string().nullable() }).meta({ id: 'RequestPage' });

/**
 * `POST /v1/requests/:id/decisions` body. A `decide` key votes as its owner: `approver` may be left out (or must name
 * that person). An `attest` key names the person its integration authenticated.
 */
export const decisionBody = z
  .object({
    approver: z
      .object(identityFields)
      .strict()
      .refine((p) => p.email || p.slackUserId || p.teamsUserId, { message: 'needs at least one of email, slackUserId or teamsUserId' })
      .optional(),
    decision: z.enum(['approve', 'deny']),
    reason: z.string().trim().min(1).max(2000).optional(),
    standing: standingAsk.optional(),
  })
  .strict()
  .meta({ id: 'Decision' });

/** An accepted vote (201). Refusals are errors with the refusal as `code`. */
export const voteAccepted = z
  .object({
    outcome: z.literal('accepted'), requestId: z.string(), status: z.enum(REQUEST_STATUSES), approvals: z.number(), approvalsRequired: z.number(),
    standingApproval: z.object({ id: z.string(), expiresAt: z.string(), uses: z.number() }).optional().describe('The standing approval this vote granted, when it asked for one.'),
  })
  .meta({ id: 'VoteAccepted' });

export const cancelBody = z.object({ reason: z.string().trim().min(1).max(2000).optional() }).strict();
export const cancelAnswer = z.object({ status: z.enum(REQUEST_STATUSES) });

/** `POST /v1/requests/:id/outcome` body: what happened after acting. */
export const outcomeBody = z
  .object({
    status: z.enum(['succeeded', 'failed', 'aborted']),
    detail: z.string().trim().min(1).max(4000).optional(),
  })
  .strict();
export const outcomeAnswer = z.object({ id: z.string(), outcome: z.enum(['succeeded', 'failed', 'aborted']) });

/** The route table of the requests API: method, path, scope and schemas, shared by the server and (later) clients. */
export const requestRoutes = {
  submitRequest: {
    method: 'POST',
    url: '/v1/requests',
    scope: 'submit',
    schema: { body: submitRequestBody, headers: submitRequestHeaders, response: { 202: intakeAnswer, 409: errorEnvelope, 413: errorEnvelope, ...authErrors } },
  },
  getRequest: {
    method: 'GET',
    url: '/v1/requests/:id',
    scope: 'read',
    schema: { params: requestIdParams, response: { 200: requestDetail, 404: errorEnvelope, ...authErrors } },
  },
  listRequests: {
    method: 'GET',
    url: '/v1/requests',
    scope: 'read',
    schema: { querystring: listRequestsQuery, response: { 200: requestPage, ...authErrors } },
  },
  decide: {
    method: 'POST',
    url: '/v1/requests/:id/decisions',
    scope: ['decide', 'attest'],
    schema: { params: requestIdParams, body: decisionBody, response: { 201: voteAccepted, 404: errorEnvelope, 409: errorEnvelope, 422: errorEnvelope, ...authErrors } },
  },
  cancel: {
    method: 'POST',
    url: '/v1/requests/:id/cancel',
    scope: 'submit',
    schema: { params: requestIdParams, body: cancelBody.optional(), response: { 200: cancelAnswer, 404: errorEnvelope, 409: errorEnvelope, ...authErrors } },
  },
  reportOutcome: {
    method: 'POST',
    url: '/v1/requests/:id/outcome',
    scope: 'submit',
    schema: { params: requestIdParams, body: outcomeBody, response: { 201: outcomeAnswer, 404: errorEnvelope, 409: errorEnvelope, ...authErrors } },
  },
} as const;
