/**
 * The audit API's contract: filtered pages, the NDJSON export, and the transparency log (signed checkpoints,
 * inclusion and consistency proofs, verification).
 */
import { z } from 'zod';
import { authErrors, errorEnvelope, isSeqText, queryDate } from './common-schemas';

/** `GET /v1/audit` query. `action`/`resource` take `*` and `?` globs; `format=ndjson` streams the whole selection. */
export const auditQuery = z
  .object({
    requestId: z.string().uuid().optional(),
    requester: z.string().min(1).optional(),
    approver: z.string().min(1).optional(),
    action: z.string().min(1).optional(),
    resource: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    since: queryDate.optional(),
    until: queryDate.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().min(1).optional(),
    format: z.enum(['json', 'ndjson']).optional(),
  })
  .strict();

export const auditEvent = z
  .object({
    seq: z.string(),
    requestId: z.string().nullable(),
    type: z.string(),
    actor: z.object({ key: z.string(), ids: z.array(z.string()), label: z.string().optional() }),
    channel: z.string(),
    at: z.string(),
    data: z.record(z.string(), z.unknown()),
    payload: z.string().describe('The exact bytes of the log leaf (RFC 9162 leaf hash = SHA-256(0x00 || payload)): re-verify an export without this service.'),
    leafIndex: z.string().nullable().describe('Position in the transparency log; null until sealed (within AUDIT_SEAL_INTERVAL_MS of the commit).'),
    leafHash: z.string().nullable().describe('Leaf hash recorded when sealed, base64.'),
  })
  .meta({ id: 'AuditEvent' });

export const auditPage = z.object({ items: z.array(auditEvent), nextCursor: z.string().nullable() }).meta({ id: 'AuditPage' });

const logProblem = z
  .object({
    problem: z.enum([
      'malformed_checkpoint', 'unknown_key', 'bad_signature', 'origin_mismatch', 'fork', 'prev_mismatch', 'checkpoint_missing', 'leaf_missing',
      'duplicate_leaf', 'event_missing', 'leaf_hash_mismatch', 'root_mismatch', 'not_sealed', 'published_mismatch', 'behind_published',
    ]),
    leafIndex: z.string().nullable(),
    seq: z.string().nullable().describe('The audit event concerned: the first one that does not match.'),
    checkpoint: z.number().nullable().describe('Tree size of the checkpoint concerned.'),
    expected: z.string().nullable(),
    found: z.string().nullable(),
    message: z.string(),
  })
  .meta({ id: 'LogProblem' });

export const verifyAnswer = z
  .object({
    ok: z.boolean(),
    checked: z.number().describe('Events rebuilt into the tree.'),
    treeSize: z.number().describe('Size of the latest signed checkpoint.'),
    checkpoints: z.number().describe('Checkpoints whose signature and link to the previous one were checked.'),
    unsealed: z.number().describe('Events committed after the latest seal (sealed within AUDIT_SEAL_INTERVAL_MS).'),
    checkpoint: z.object({ treeSize: z.number(), rootHash: z.string(), time: z.string().nullable(), signedBy: z.array(z.string()) }).nullable(),
    published: z.object({ treeSize: z.number(), rootHash: z.string() }).nullable().describe('Latest checkpoint found outside the database (file sink).'),
    firstProblem: logProblem.nullable(),
  })
  .meta({ id: 'AuditVerification' });

export const checkpointsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().min(1).optional(),
  })
  .strict();

export const checkpointItem = z
  .object({
    treeSize: z.number(),
    rootHash: z.string(),
    origin: z.string(),
    keyId: z.string(),
    createdAt: z.string(),
    note: z.string().describe('The signed checkpoint (c2sp.org/tlog-checkpoint signed note), byte for byte as published.'),
  })
  .meta({ id: 'Checkpoint' });

export const checkpointPage = z
  .object({
    items: z.array(checkpointItem),
    nextCursor: z.string().nullable(),
    keys: z.array(z.object({ kid: z.string(), verifierKey: z.string(), publicKey: z.string(), status: z.enum(['current', 'retired']) })).describe(
      'Keys this service trusts for its checkpoints. Get them from the operator, not from here, to check signatures independently.',
    ),
  })
  .meta({ id: 'CheckpointPage' });

const size = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const proofQuery = z
  .object({
    event: z.string().refine(isSeqText, 'must be an audit event seq'),
    treeSize: size.optional(),
  })
  .strict();

export const inclusionProofAnswer = z
  .object({
    seq: z.string(),
    leafIndex: z.number(),
    leafHash: z.string(),
    treeSize: z.number(),
    rootHash: z.string(),
    checkpoint: z.string(),
    proof: z.array(z.string()).describe('RFC 9162 inclusion path, base64 hashes, leaf to root.'),
  })
  .meta({ id: 'InclusionProof' });

export const consistencyQuery = z.object({ from: size, to: size.optional() }).strict();

export const consistencyProofAnswer = z
  .object({
    from: z.number(),
    to: z.number(),
    fromRoot: z.string(),
    toRoot: z.string(),
    fromCheckpoint: z.string(),
    toCheckpoint: z.string(),
    proof: z.array(z.string()).describe('RFC 9162 consistency proof, base64 hashes.'),
  })
  .meta({ id: 'ConsistencyProof' });

/** `GET /v1/evidence` query: the window of the pack. */
export const evidenceQuery = z
  .object({
    since: queryDate.describe('Start of the window (inclusive), ISO 8601.'),
    until: queryDate.optional().describe('End of the window (exclusive); default: now.'),
  })
  .strict();

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
  listCheckpoints: {
    method: 'GET',
    url: '/v1/audit/checkpoints',
    scope: 'audit',
    schema: { querystring: checkpointsQuery, response: { 200: checkpointPage, ...authErrors } },
  },
  inclusionProof: {
    method: 'GET',
    url: '/v1/audit/proof',
    scope: 'audit',
    schema: { querystring: proofQuery, response: { 200: inclusionProofAnswer, 404: errorEnvelope, 409: errorEnvelope, ...authErrors } },
  },
  evidencePack: {
    method: 'GET',
    url: '/v1/evidence',
    scope: 'audit',
    schema: {
      description:
        'The evidence pack of a window, as a ZIP archive (application/zip): events, signed checkpoints and inclusion proofs, public keys, ' +
        'grants and their uses, the policy texts in force, and a manifest signed with the service key. Verify it offline with ' +
        '`npm run cli -- verify pack <file> --jwks jwks.json`.',
      querystring: evidenceQuery,
      response: { ...authErrors },
    },
  },
  consistencyProof: {
    method: 'GET',
    url: '/v1/audit/consistency',
    scope: 'audit',
    schema: { querystring: consistencyQuery, response: { 200: consistencyProofAnswer, 404: errorEnvelope, ...authErrors } },
  },
} as const;


