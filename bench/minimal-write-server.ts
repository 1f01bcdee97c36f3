/**
 * The "minimal durable write" baseline for `npm run bench`: the floor under any service that accepts an approval
 * request durably. One Fastify route (no logger, auth, validation, policy, idempotency or ORM), `POST /v1/requests`:
 *
 * - ONE statement inserting the same `approval_request` row and the same `audit_event` rows (2 for a pending request,
 *   3 for a routine auto-approval) as Countersign, as plain VALUES (no CTE over a JSON parameter, no ON CONFLICT);
 *   nothing fires on insert (the audit tables' triggers only refuse UPDATE, DELETE and TRUNCATE);
 * - then, for a pending request, the same queue adds as Countersign (the `card.post` delivery job and the delayed
 *   `expire` timer job, same queue names, job ids and options).
 *
 * Run as a child process by bench/run-bench.ts on its own migrated database. Env: PORT, HOST, DATABASE_URL, REDIS_URL,
 * REDIS_PREFIX, API_KEY_ID (uuid of an existing api_key row), DATABASE_POOL_SIZE.
 */
import { createHash, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Queue, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';

const env = process.env;
const PORT = Number(env.PORT ?? 3200);
const HOST = env.HOST ?? '127.0.0.1';
const PREFIX = env.REDIS_PREFIX ?? 'csmin';
const API_KEY_ID = env.API_KEY_ID ?? '';
if (!env.DATABASE_URL || !API_KEY_ID) {
  console.error('minimal-write-server: DATABASE_URL and API_KEY_ID are required');
  process.exit(78);
}

const MEMBERS = Array.from({ length: Number(env.APPROVER_COUNT ?? 20) }, (_, i) => `approver-${i + 1}@example.com`);
const REQUIREMENT = { approvers: ['data-owners'], members: MEMBERS, approvals: 1, channels: ['slack:C0BENCH'], reason: 'on-deny' };
const POLICY_HASH = createHash('sha256').update('bench-policy').digest('hex');
const TTL_SECONDS = 3600;

const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.DATABASE_POOL_SIZE ?? 20) });
pool.on('error', () => undefined);
const producer = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 });
producer.on('error', () => undefined);
const defaultJobOptions: JobsOptions = { attempts: 8, backoff: { type: 'countersign', delay: 2_000 }, removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } };
const delivery = new Queue('delivery', { connection: producer, prefix: PREFIX, defaultJobOptions });
const timers = new Queue('timers', { connection: producer, prefix: PREFIX, defaultJobOptions: { ...defaultJobOptions, attempts: 5 } });
for (const q of [delivery, timers]) q.on('error', () => undefined);
const targetKey = (t: string) => createHash('sha1').update(t).digest('hex').slice(0, 16);

const REQUEST_COLUMNS = `id, status, action, resource, requester_id, requester_type, requester_email, requester, on_behalf_of, justification,
  context, risk, environment, api_key_id, api_key_name, key_owner, body_hash, policy_rule, policy_outcome, policy_hash, requirement,
  approvals_required, expires_at, created_at, decided_at, decided_by, decision_reason`;
const REQUEST_VALUES = `$1::uuid, $2::"RequestStatus", $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11::jsonb, $12::"Risk", $13, $14::uuid, $15, $16,
  $17, $18, $19::"PolicyOutcome", $20, $21::jsonb, $22, $23::timestamptz, $24::timestamptz, $25::timestamptz, $26, $27`;
/** One statement: the request row, then its audit rows (n of them), each `(type, actor, actor_ids, payload)`. */
function insertSql(n: number): string {
  const rows = Array.from({ length: n }, (_, i) => `($1::uuid, $${28 + 4 * i}, $${29 + 4 * i}, $${30 + 4 * i}::text[], 'api', $24::timestamptz, $${31 + 4 * i})`);
  return `WITH r AS (INSERT INTO approval_request (${REQUEST_COLUMNS}) VALUES (${REQUEST_VALUES}) RETURNING id)
    INSERT INTO audit_event (request_id, type, actor, actor_ids, channel, at, payload) SELECT v.* FROM (VALUES ${rows.join(', ')}) AS v, r`;
}
const INSERT_2 = insertSql(2);
const INSERT_3 = insertSql(3);

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const app = Fastify({ logger: false, bodyLimit: 64 * 1024, keepAliveTimeout: 72_000 });

app.get('/readyz', async () => {
  await pool.query('SELECT 1');
  await producer.ping();
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
  const event = (type: string, actor: string, data: unknown) => [type, actor, [actor], JSON.stringify({ v: 1, type, requestId: id, actor: { key: actor, ids: [actor] }, channel: 'api', at, data })];
  const events = [
    event('request.submitted', requesterActor, { ...input, apiKey: 'bench-agent', expiresAt: expiresAt.toISOString() }),
    event('policy.matched', 'policy', { rule, outcome: approved ? 'approve' : 'require', policyHash: POLICY_HASH, requirement: approved ? null : REQUIREMENT }),
  ];
  if (approved) events.push(event('request.decided', 'policy', { status, by: 'policy', rule, reason }));
  await pool.query({
    name: approved ? 'min_intake_3' : 'min_intake_2',
    text: approved ? INSERT_3 : INSERT_2,
    values: [
      id, status, input.action, input.resource, requester.id, requester.type, requester.email ?? null, JSON.stringify(requester), null,
      input.justification ?? null, JSON.stringify(input.context ?? {}), input.risk ?? null, input.environment ?? null, API_KEY_ID, 'bench-agent',
      'agent-owner@example.com', createHash('sha256').update(JSON.stringify(input)).digest('hex'), rule, approved ? 'approve' : 'require', POLICY_HASH,
      approved ? null : JSON.stringify(REQUIREMENT), approved ? 0 : 1, expiresAt, now, approved ? now : null, approved ? 'policy' : null, reason,
      ...events.flat(),
    ],
  });
  if (!approved) {
    const target = 'slack:C0BENCH';
    await Promise.all([
      delivery.add('card.post', { requestId: id, target }, { jobId: `post.${id}.${targetKey(target)}` }),
      timers.add('expire', { requestId: id }, { jobId: `expire.${id}`, delay: Math.max(0, expiresAt.getTime() - Date.now()) }),
    ]);
  }
  void reply.status(202);
  return { id, status, expiresAt: expiresAt.toISOString(), rule };
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
  (address) => console.log(`minimal durable write baseline listening on ${address}`),
  (err) => {
    console.error('minimal durable write baseline failed to start:', err);
    process.exit(1);
  },
);
