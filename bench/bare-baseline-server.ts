/**
 * The bare baseline for `npm run bench`: the least a service can do to accept the same requests durably.
 *
 * A plain Fastify app (no logger, no auth, no validation, no policy engine, no ORM) that performs the SAME durable work
 * as Countersign's hot paths, with `pg` (named prepared statements, like Countersign's adapter) and BullMQ:
 *
 * - `POST /v1/requests`: one statement inserting the `approval_request` row and its `audit_event` rows (2 for a pending
 *   request, 3 for a routine auto-approval), same columns as src/services/intake-service.ts; then, for a pending
 *   request, the `card.post` delivery job and the delayed `expire` timer job, with the same queue names, prefix, job
 *   ids and default job options as src/queue/queues.ts. (Until the transparency log replaced the per-row hash chain,
 *   the audit insert also fired the chain trigger and wrote a `chain` column; the statement is otherwise unchanged.)
 * - `POST /v1/requests/:id/decisions`: one transaction that locks the request (same lock query as the decision
 *   service), inserts the vote, moves the request to approved when enough approvals are in, appends the audit events;
 *   then the `request.changed` delivery job and the pub/sub wake-up, as Countersign does after commit.
 *
 * Run as a child process by bench/run-bench.ts. Env: PORT, HOST, DATABASE_URL, REDIS_URL, REDIS_PREFIX, API_KEY_ID
 * (uuid of an existing api_key row), API_KEY_NAME, DATABASE_POOL_SIZE.
 */
import { createHash, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const env = process.env;
const PORT = Number(env.PORT ?? 3100);
const HOST = env.HOST ?? '127.0.0.1';
const PREFIX = env.REDIS_PREFIX ?? 'csbase';
const API_KEY_ID = env.API_KEY_ID ?? '';
const API_KEY_NAME = env.API_KEY_NAME ?? 'bench-agent';
const OWNER_EMAIL = env.API_KEY_OWNER ?? 'agent-owner@example.com';
const BASE_URL = `http://localhost:${PORT}`;
if (!env.DATABASE_URL || !API_KEY_ID) {
  console.error('bare-baseline-server: DATABASE_URL and API_KEY_ID are required');
  process.exit(78);
}

// Same bench policy as the Countersign instance: `*.read` in dev is approved outright; `dataset.export` needs 1 of the group.
const MEMBERS = Array.from({ length: Number(env.APPROVER_COUNT ?? 20) }, (_, i) => `approver-${i + 1}@example.com`);
const REQUIREMENT = { approvers: ['data-owners'], members: MEMBERS, approvals: 1, channels: ['slack:C0BENCH'], reason: 'on-deny' };
const POLICY_HASH = createHash('sha256').update('bench-policy').digest('hex');
const TTL_SECONDS = 3600;

const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.DATABASE_POOL_SIZE ?? 20) });
pool.on('error', () => undefined);
const producer = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 });
producer.on('error', () => undefined);
const defaultJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: 'countersign', delay: 2_000 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};
const delivery = new Queue('delivery', { connection: producer, prefix: PREFIX, defaultJobOptions });
const timers = new Queue('timers', { connection: producer, prefix: PREFIX, defaultJobOptions: { ...defaultJobOptions, attempts: 5 } });
for (const q of [delivery, timers]) q.on('error', () => undefined);

const targetKey = (t: string) => createHash('sha1').update(t).digest('hex').slice(0, 16);

interface AuditRow { request_id: string; type: string; actor: string; actor_ids: string[]; channel: string; at: string; payload: string }
function auditRow(requestId: string, type: string, actor: string, ids: string[], at: string, data: unknown): AuditRow {
  const payload = JSON.stringify({ v: 1, type, requestId, actor: { key: actor, ids }, channel: 'api', at, data });
  return { request_id: requestId, type, actor, actor_ids: ids, channel: 'api', at, payload };
}

const auditInsert = (param: string, from = '') => `INSERT INTO audit_event (request_id, type, actor, actor_ids, channel, at, payload)
    SELECT e.request_id, e.type, e.actor, e.actor_ids, e.channel, e.at, e.payload
    FROM jsonb_to_recordset(${param}::jsonb) AS e(request_id uuid, type text, actor text, actor_ids text[], channel text, at timestamptz, payload text)${from}`;

// Column for column the statement of src/services/intake-service.ts.
const INSERT_SQL = `WITH ins AS (
  INSERT INTO approval_request (id, status, action, resource, requester_id, requester_type, requester_email, requester,
    on_behalf_of, justification, context, risk, environment, callback_url, trace_id, parent_request_id, api_key_id,
    api_key_name, key_owner, idempotency_key, body_hash, policy_rule, policy_outcome, policy_hash, requirement,
    approvals_required, expires_at, created_at, decided_at, decided_by, decision_reason)
  VALUES ($1::uuid, $2::"RequestStatus", $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11::jsonb, $12::"Risk", $13, $14,
    $15, $16::uuid, $17::uuid, $18, $19, $20, $21, $22, $23::"PolicyOutcome", $24, $25::jsonb, $26, $27::timestamptz,
    $28::timestamptz, $29::timestamptz, $30, $31)
  ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
  RETURNING id
), ev AS (
  ${auditInsert('$32', ' WHERE EXISTS (SELECT 1 FROM ins)')}
  RETURNING 1
)
SELECT (SELECT id FROM ins) AS id, (SELECT count(*)::int FROM ev) AS events`;

// The decision service's lock query, vote insert, transition and audit append.
const LOCK_SQL = `SELECT r.id, r.status, r.requester, r.on_behalf_of, r.key_owner, r.api_key_id, r.expires_at,
    r.requirement, r.approvals_required, r.outcome_report, r.policy_outcome,
    COALESCE((SELECT json_agg(json_build_object('person_key', v.person_key, 'approver', v.approver, 'channel', v.channel,
      'decision', v.decision, 'reason', v.reason, 'created_at', v.created_at) ORDER BY v.created_at)
      FROM vote v WHERE v.request_id = r.id), '[]'::json) AS votes
  FROM approval_request r WHERE r.id = $1::uuid FOR UPDATE`;
const VOTE_SQL = `INSERT INTO vote (id, request_id, person_key, approver, channel, decision, reason, created_at)
   VALUES ($1::uuid, $2::uuid, $3, $4::jsonb, $5, $6::"VoteDecision", $7, $8::timestamptz)`;
const TRANSITION_SQL = `UPDATE approval_request SET status = $2::"RequestStatus", decided_at = $3::timestamptz, decided_by = $4, decision_reason = $5
       WHERE id = $1::uuid AND status = 'pending'`;
const AUDIT_SQL = auditInsert('$1');

const links = (id: string) => {
  const self = `${BASE_URL}/v1/requests/${id}`;
  return { self, wait: `${self}?wait=30`, decisions: `${self}/decisions`, cancel: `${self}/cancel`, outcome: `${self}/outcome`, audit: `${BASE_URL}/v1/audit?requestId=${id}` };
};

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const app = Fastify({ logger: false, bodyLimit: 64 * 1024, keepAliveTimeout: 72_000 });

app.get('/readyz', async (_req, reply) => {
  await pool.query('SELECT 1');
  await producer.ping();
  void reply.status(200);
  return { status: 'ready' };
});

app.post('/v1/requests', async (req, reply) => {
  const input = req.body as Body;
  const id = randomUUID();
  const now = new Date();
  const at = now.toISOString();
  const expiresAt = new Date(now.getTime() + TTL_SECONDS * 1000);
  const approved = typeof input.action === 'string' && input.action.endsWith('.read') && input.environment === 'dev';
  const status = approved ? 'approved' : 'pending';
  const rule = approved ? 'routine-dev-reads' : 'dataset-export';
  const requester = input.requester ?? {};
  const requesterActor = `${requester.type}:${requester.id}`;
  const reason = approved ? `Routine: approved by policy rule ${rule}` : null;
  const bodyHash = createHash('sha256').update(JSON.stringify(input)).digest('hex');
  const events = [
    auditRow(id, 'request.submitted', requesterActor, [requesterActor], at, { ...input, apiKey: API_KEY_NAME, keyOwner: OWNER_EMAIL, expiresAt: expiresAt.toISOString() }),
    auditRow(id, 'policy.matched', 'policy', ['policy'], at, { rule, outcome: approved ? 'approve' : 'require', policyHash: POLICY_HASH, requirement: approved ? null : REQUIREMENT }),
  ];
  if (approved) events.push(auditRow(id, 'request.decided', 'policy', ['policy'], at, { status, by: 'policy', rule, reason }));
  const { rows } = await pool.query({
    name: 'bench_intake',
    text: INSERT_SQL,
    values: [
      id, status, input.action, input.resource, requester.id, requester.type, requester.email ?? null, JSON.stringify(requester), null,
      input.justification ?? null, JSON.stringify(input.context ?? {}), input.risk ?? null, input.environment ?? null, null, null, null,
      API_KEY_ID, API_KEY_NAME, OWNER_EMAIL, null, bodyHash, rule, approved ? 'approve' : 'require', POLICY_HASH,
      approved ? null : JSON.stringify(REQUIREMENT), approved ? 0 : 1, expiresAt, now, approved ? now : null, approved ? 'policy' : null, reason,
      JSON.stringify(events),
    ],
  });
  if (!rows[0]?.id) throw new Error('insert failed');
  if (!approved) {
    const target = 'slack:C0BENCH';
    await Promise.all([
      delivery.add('card.post', { requestId: id, target }, { jobId: `post.${id}.${targetKey(target)}` }),
      timers.add('expire', { requestId: id }, { jobId: `expire.${id}`, delay: Math.max(0, expiresAt.getTime() - Date.now()) }),
    ]);
  }
  void reply.header('location', links(id).self).status(202);
  return { id, status, expiresAt: expiresAt.toISOString(), rule, links: links(id) };
});

app.post('/v1/requests/:id/decisions', async (req, reply) => {
  const { id } = req.params as { id: string };
  const body = req.body as Body;
  const approver = body.approver ?? {};
  const key = String(approver.email ?? '').toLowerCase();
  const now = new Date();
  const at = now.toISOString();
  const client = await pool.connect();
  let answer: { outcome: string; requestId: string; status: string; approvals: number; approvalsRequired: number };
  let votes: number;
  try {
    await client.query('BEGIN');
    const { rows } = await client.query({ name: 'bench_lock', text: LOCK_SQL, values: [id] });
    const row = rows[0];
    if (!row || row.status !== 'pending' || !row.requirement?.members?.includes(key)) {
      await client.query('ROLLBACK');
      void reply.status(row ? 409 : 404);
      return { error: { code: row ? 'refused' : 'not_found' } };
    }
    const approvals = row.votes.filter((v: { decision: string }) => v.decision === 'approve').length + (body.decision === 'approve' ? 1 : 0);
    const status = body.decision === 'deny' ? 'denied' : approvals >= row.approvals_required ? 'approved' : 'pending';
    await client.query({
      name: 'bench_vote',
      text: VOTE_SQL,
      values: [randomUUID(), id, key, JSON.stringify(approver), 'api', body.decision, body.reason ?? null, now],
    });
    const events = [auditRow(id, 'vote.cast', key, [key], at, { decision: body.decision, reason: body.reason ?? null, approver, approvals, approvalsRequired: row.approvals_required })];
    if (status !== 'pending') {
      await client.query({ name: 'bench_transition', text: TRANSITION_SQL, values: [id, status, now, key, body.reason ?? null] });
      events.push(auditRow(id, 'request.decided', key, [key], at, { status, by: key, reason: body.reason ?? null, approvals }));
    }
    await client.query({ name: 'bench_audit', text: AUDIT_SQL, values: [JSON.stringify(events)] });
    await client.query('COMMIT');
    votes = row.votes.length + 1;
    answer = { outcome: 'accepted', requestId: id, status, approvals, approvalsRequired: row.approvals_required };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  await Promise.all([
    delivery.add('request.changed', { requestId: id }, { jobId: `changed.${id}.${answer.status}-${votes}` }),
    producer.publish(`${PREFIX}:request-changed`, id),
  ]);
  void reply.status(201);
  return answer;
});

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  const force = setTimeout(() => process.exit(0), 5_000).unref();
  await app.close().catch(() => undefined);
  await Promise.all([delivery.close(), timers.close()]).catch(() => undefined);
  await producer.quit().catch(() => undefined);
  await pool.end().catch(() => undefined);
  clearTimeout(force);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());

app.listen({ port: PORT, host: HOST }).then(
  (address) => console.log(`bare baseline listening on ${address}`),
  (err) => {
    console.error('bare baseline failed to start:', err);
    process.exit(1);
  },
);
