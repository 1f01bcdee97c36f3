/**
 * A worker killed with SIGKILL while it holds a job: the job is taken back once its lock expires (WORKER_LOCK_MS,
 * checked every WORKER_STALLED_CHECK_MS), not after BullMQ's default half-minute lock and stalled check, and the card
 * the dead worker had already posted is found rather than posted again. The service runs as operators run it, in a
 * child process (src/main.ts), so nothing of it survives the kill.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/fake-slack-api';
import { DATA_CHANNEL, SIGNING_SECRET, SLACK_POLICY, USERS } from '../slack/slack-test-app';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';
import { baseRequest, deleteRedisKeys, KEYS } from '../support/start-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/** The intervals under test: the defaults of WORKER_LOCK_MS and WORKER_STALLED_CHECK_MS (see src/config/config.ts). */
const LOCK_MS = 8_000;
const STALLED_CHECK_MS = 4_000;
/** How long after the restarted service is ready the card may take: the lock's expiry plus one check, with margin. */
const RECOVERY_BOUND_MS = LOCK_MS + STALLED_CHECK_MS + 3_000;

let slack: FakeSlackApi;
let database: TestDatabase;
let dir: string;
let env: Record<string, string>;
const prefix = `cs-test-crash-${randomBytes(4).toString('hex')}`;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  slack = await startFakeSlackApi();
  for (const u of Object.values(USERS)) slack.addUser(u);
  slack.addChannel(DATA_CHANNEL);
  database = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'cs-crash-'));
  writeFileSync(path.join(dir, 'policy.yaml'), SLACK_POLICY);
  env = {
    DATABASE_URL: database.appUrl,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: 'redis://127.0.0.1:6379',
    REDIS_PREFIX: prefix,
    POLICY_FILE: path.join(dir, 'policy.yaml'),
    DATA_DIR: path.join(dir, 'data'),
    API_KEYS: [`agent:${KEYS.agent}:submit+read:ops-lead@example.com`, `portal:${KEYS.approver}:read+attest:portal-admin@example.com`].join(','),
    API_KEY_CACHE_MS: '0',
    DELIVERY_BACKOFF_MS: '200',
    WORKER_LOCK_MS: String(LOCK_MS),
    WORKER_STALLED_CHECK_MS: String(STALLED_CHECK_MS),
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    SLACK_TEAM_ID: slack.teamId,
  };
}, 60_000);

afterAll(async () => {
  for (const p of running) await p.kill('SIGKILL');
  await slack?.close();
  await deleteRedisKeys('redis://127.0.0.1:6379', prefix);
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function cardRow(id: string): Promise<{ status: string; message_ref: any } | undefined> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT status, message_ref FROM delivery WHERE request_id = $1::uuid AND kind = 'card'", [id]);
    return rows[0];
  } finally {
    await client.end();
  }
}

async function until<T>(fn: () => Promise<T | undefined | false>, deadline: number, what: string): Promise<T> {
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const cardsOf = (id: string) => slack.messagesIn(DATA_CHANNEL).filter((m) => JSON.stringify(m.history[0].blocks ?? []).includes(id));

it('a job claimed at the moment of a SIGKILL is delivered soon after the service is back, and its card is not posted twice', async () => {
  const first = await startServiceProcess(env, { name: 'first run' });
  running.push(first);
  // Slack posts the card but its answer never reaches the worker before the kill.
  slack.answerLate('chat.postMessage', 600_000);
  const res = await fetch(`${first.baseUrl}/v1/requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEYS.agent}`, 'content-type': 'application/json' },
    body: JSON.stringify(baseRequest({ action: 'deploy.release' })),
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  await until(async () => cardsOf(id).length === 1, Date.now() + 20_000, 'the card posted by the first run');
  await first.kill('SIGKILL');
  slack.answerLate('chat.postMessage', 0);
  expect((await cardRow(id))?.status).toBe('pending');

  const second = await startServiceProcess(env, { name: 'second run' });
  running.push(second);
  const ready = Date.now();
  const row = await until(async () => ((await cardRow(id))?.status === 'delivered' ? cardRow(id) : undefined), ready + RECOVERY_BOUND_MS, 'the card delivered after the restart');
  expect(cardsOf(id)).toHaveLength(1);
  expect(row!.message_ref.ref).toEqual({ channel: DATA_CHANNEL, ts: cardsOf(id)[0].ts });
  expect(slack.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args.blocks ?? []).includes(id))).toHaveLength(1);

  // The adopted card is the one the decision updates.
  const vote = await fetch(`${second.baseUrl}/v1/requests/${id}/decisions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEYS.approver}`, 'content-type': 'application/json' },
    body: JSON.stringify({ approver: { email: 'alice@example.com' }, decision: 'approve' }),
  });
  expect(vote.status).toBe(201);
  await until(async () => !(cardsOf(id)[0].blocks ?? []).some((b: any) => b.type === 'actions'), Date.now() + 15_000, 'the card updated to its outcome');
  expect(cardsOf(id)).toHaveLength(1);
  expect(await second.kill('SIGTERM')).toBe(0);
}, 120_000);
