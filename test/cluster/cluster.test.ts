/**
 * Several nodes, one truth: two API nodes and two worker nodes (each `src/main.ts` in a process of its own, RUN_MODE
 * api / worker) share one PostgreSQL database and one Redis prefix, as compose.yaml runs them. Intakes are spread over
 * both API nodes, one worker is killed with SIGKILL while cards are being posted, and every request must still get
 * exactly one card and, once decided through the API, exactly one final update of that card and one callback.
 *
 * Run with `npm run test:cluster` (not part of `npm test`: it starts four services and takes a few minutes on a small
 * machine). CLUSTER_REQUESTS sets how many requests (default 1000).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/fake-slack-api';
import { SIGNING_SECRET, USERS } from '../slack/slack-test-app';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';
import { baseRequest, deleteRedisKeys, KEYS } from '../support/start-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const REQUESTS = Number(process.env.CLUSTER_REQUESTS ?? 1000);
/** After this many intakes (a third of them), one worker is killed: cards are being posted at that moment. */
const KILL_AFTER = Math.floor(REQUESTS / 3);
const CHANNEL = 'C0000OPS';
const POLICY = `
version: 1
groups:
  approvers: [alice@example.com]
rules:
  - name: ops-change
    match: { action: "deploy.*" }
    outcome: require
    approvers: [approvers]
    approvals: 1
    channels: ["slack:${CHANNEL}"]
default:
  outcome: deny
`;

let slack: FakeSlackApi;
let database: TestDatabase;
let receiver: Server;
let dir: string;
let admin: pg.Client;
const prefix = `cs-test-cluster-${randomBytes(4).toString('hex')}`;
const callbacks = new Map<string, number>();
const nodes: ServiceProcess[] = [];

beforeAll(async () => {
  slack = await startFakeSlackApi();
  slack.addUser(USERS.alice);
  slack.addChannel(CHANNEL);
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['countersign-request-id'] ?? '');
      callbacks.set(id, (callbacks.get(id) ?? 0) + 1);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  database = await createTestDatabase();
  admin = new pg.Client({ connectionString: database.url });
  await admin.connect();
  dir = mkdtempSync(path.join(tmpdir(), 'cs-cluster-'));
  writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
}, 60_000);

afterAll(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  await admin?.end();
  await slack?.close();
  await new Promise((r) => receiver?.close(r));
  await deleteRedisKeys('redis://127.0.0.1:6379', prefix);
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function nodeEnv(runMode: 'api' | 'worker'): Record<string, string> {
  return {
    RUN_MODE: runMode,
    // info: the start-up line (with the bound address) is how the test learns a node is up.
    LOG_LEVEL: 'info',
    DATABASE_URL: database.appUrl,
    DATABASE_POOL_SIZE: '8',
    REDIS_URL: 'redis://127.0.0.1:6379',
    REDIS_PREFIX: prefix,
    POLICY_FILE: path.join(dir, 'policy.yaml'),
    // One signing key for every node (generated once by the first into the shared directory would race): give it.
    SIGNING_KEY: randomSeed,
    DATA_DIR: path.join(dir, `data-${runMode}`),
    API_KEYS: [`agent:${KEYS.agent}:submit+read:ops-lead@example.com`, `portal:${KEYS.approver}:read+attest:portal-admin@example.com`].join(','),
    INTAKE_RATE_LIMIT_PER_MINUTE: '0',
    MAX_PENDING_PER_KEY: '0',
    CALLBACK_ALLOWED_HOSTS: `127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    WORKER_CONCURRENCY: '10',
    DELIVERY_BACKOFF_MS: '200',
    // Reconcilers on both workers run often, alongside the workers: re-driving must never duplicate anything.
    RECONCILE_INTERVAL_MS: '5000',
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    SLACK_TEAM_ID: slack.teamId,
  };
}
const randomSeed = randomBytes(32).toString('base64');

/** Runs `fn` over `items` with at most `width` in flight. */
async function inParallel<T>(items: T[], width: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

async function post(url: string, key: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function count(sql: string): Promise<number> {
  return (await admin.query<{ n: number }>(sql)).rows[0].n;
}

async function until(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const hasButtons = (blocks: any[] | undefined) => (blocks ?? []).some((b) => b.type === 'actions');
const requestIdOf = (m: { metadata?: { event_payload?: Record<string, unknown> } }) => String(m.metadata?.event_payload?.request_id ?? '');

it(`${REQUESTS} requests over two API nodes and two workers, one worker killed mid-run: one card each, one final update, one callback`, async () => {
  const [api1, api2, worker1, worker2] = await Promise.all([
    startServiceProcess(nodeEnv('api'), { name: 'api-1', timeoutMs: 90_000 }),
    startServiceProcess(nodeEnv('api'), { name: 'api-2', timeoutMs: 90_000 }),
    startServiceProcess(nodeEnv('worker'), { name: 'worker-1', timeoutMs: 90_000 }),
    startServiceProcess(nodeEnv('worker'), { name: 'worker-2', timeoutMs: 90_000 }),
  ]);
  nodes.push(api1, api2, worker1, worker2);
  const apis = [api1, api2];
  const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;

  // Intake, alternating between the API nodes; a third of the way in, worker-1 dies while it holds jobs.
  const ids: string[] = new Array(REQUESTS);
  let submitted = 0;
  let killed: Promise<unknown> | undefined;
  await inParallel([...Array(REQUESTS).keys()], 16, async (i) => {
    const res = await post(`${apis[i % 2].baseUrl}/v1/requests`, KEYS.agent, baseRequest({ action: 'deploy.release', resource: `k8s://prod/svc-${i}`, callbackUrl }));
    expect(res.status).toBe(202);
    ids[i] = res.body.id;
    if (++submitted === KILL_AFTER) killed = worker1.kill('SIGKILL');
  });
  await killed;

  // Every card posted, by the surviving worker (which takes back the dead one's jobs) and the reconcilers.
  // Delivered and rendered: a card adopted after the kill is re-rendered right after it is found, and that render must
  // be over before the decisions, or it could show the outcome too.
  await until(
    async () => (await count("SELECT count(*)::int AS n FROM delivery WHERE kind = 'card' AND status = 'delivered' AND message_ref->>'renderedVersion' = 'pending:0'")) === REQUESTS,
    120_000,
    'every card delivered',
  );
  const cards = slack.messagesIn(CHANNEL);
  const perRequest = new Map<string, number>();
  for (const m of cards) perRequest.set(requestIdOf(m), (perRequest.get(requestIdOf(m)) ?? 0) + 1);
  expect(cards).toHaveLength(REQUESTS);
  expect(ids.filter((id) => perRequest.get(id) !== 1)).toEqual([]);
  expect(slack.callsTo('chat.postMessage').filter((c) => c.status === 200)).toHaveLength(REQUESTS);

  // Decide every request through the API, on both nodes.
  await inParallel(ids, 16, async (id, i) => {
    const res = await post(`${apis[i % 2].baseUrl}/v1/requests/${id}/decisions`, KEYS.approver, { approver: { email: 'alice@example.com' }, decision: 'approve' });
    expect(res.status).toBe(201);
  });
  await until(async () => ids.every((id) => callbacks.get(id)) && cards.every((m) => !hasButtons(m.blocks)), 120_000, 'every callback and final card');
  // Settle: nothing more may arrive (a duplicate would come from a re-driven job).
  await until(async () => (await count("SELECT count(*)::int AS n FROM delivery WHERE kind = 'callback' AND status = 'delivered'")) === REQUESTS, 30_000, 'callback rows');

  expect(ids.filter((id) => callbacks.get(id) !== 1)).toEqual([]);
  // Exactly one version of each card shows the outcome (a catch-up render of a card adopted after the kill shows the
  // pending state again, never the outcome twice).
  expect(cards.filter((m) => m.history.filter((v) => !hasButtons(v.blocks)).length !== 1).map(requestIdOf)).toEqual([]);
  expect(await count("SELECT count(*)::int AS n FROM approval_request WHERE status = 'approved'")).toBe(REQUESTS);
  expect(await count("SELECT count(*)::int AS n FROM delivery WHERE status IN ('pending', 'failed')")).toBe(0);
}, 300_000);
