/** The audit API's contract: filtered pages, the NDJSON export, and chain verification. */
import { z } from 'zod';
import { authErrors } from './common-schemas';

/** `GET /v1/audit` query. `action`/`resource` take `*` and `?` globs; `format=ndjson` streams the whole selection. */
export const auditQuery = z
  .object({
    requestId: z.string().uuid().optional(),
    requester: z.string().min(1).optional(),
    approver: z.string().min(1).optional(),
    action: z.string().min(1).optional(),
    resource: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    since: z.coerce.date().optional(),
    until: z.coerce.date().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().min(1).optional(),
    format: z.enum(['json', 'ndjson']).optional(),
  })
  .strict();

export const auditEvent = z
  .object({
    seq: z.string(),
    chain: z.number(),
    requestId: z.string().nullable(),
    type: z.string(),
    actor: z.object({ key: z.string(), ids: z.array(z.string()), label: z.string().optional() }),
    channel: z.string(),
    at: z.string(),
    data: z.record(z.string(), z.unknown()),
    prevHash: z.string(),
    hash: z.string(),
    payload: z.string().describe('The exact bytes the hash covers: re-verify an export without this service.'),
  })
  .meta({ id: 'AuditEvent' });

export const auditPage = z.object({ items: z.array(auditEvent), nextCursor: z.string().nullable() }).meta({ id: 'AuditPage' });

export const verifyAnswer = z
  .object({
    ok: z.boolean(),
    checked: z.number(),
    firstBreak: z
      .object({ seq: z.string(), chain: z.number(), problem: z.enum(['hash_mismatch', 'link_broken', 'head_mismatch']), expected: z.string(), found: z.string() })
      .nullable(),
  })
  .meta({ id: 'AuditVerification' });

export const auditRoutes = {
  queryAudit: {
    method: 'GET',
    url: '/v1/audit',
    scope: 'audit',
    schema: { querystring: auditQuery, response: { 200: auditPage, ...authErrors } },
  },
  verifyAudit: {
    method: 'GET',
    url: '/v1/audit/verify',
    scope: 'audit',
    schema: { response: { 200: verifyAnswer, ...authErrors } },
  },
} as const;


