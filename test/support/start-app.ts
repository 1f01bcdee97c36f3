/**
 * Integration-test harness: the real app (HTTP + workers) on a random port, against its own Postgres database (a
 * clone of the migrated template) and its own Redis key prefix, so test files never see each other's data.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/observability/logger';
import type pino from 'pino';
import { createApp, type App, type AppOptions } from '../../src/app';
import type { AnyChatPlatform } from '../../src/channels/channel-module';
import { loadConfig, type Config } from '../../src/config/config';
import { createTestDatabase, type TestDatabase } from './test-database';

export const TEST_POLICY = `
version: 1
people:
  # Known to the directory, in no approver group: refused as not eligible (an unknown identity is refused as unknown).
  - id: mallory
    name: Mallory Outsider
    identities: [mallory@example.com]
groups:
  approvers:
    - alice@example.com
    - bob@example.com
    - carol@example.com
    - slack:U0000ERIN
    - teams:00000000-0000-0000-0000-00000000e1e1
  security:
    - dave@example.com
sensitiveContextKeys: [customer_email]
rules:
  - name: routine-reads
    match: { action: "*.read", environment: [dev, staging] }
    outcome: approve
  - name: no-deletes
    match: { action: "*.delete" }
    outcome: deny
    message: Deletes are never allowed for agents.
  - name: two-person-export
    match: { action: dataset.export }
    outcome: require
    approvers: [approvers]
    approvals: 2
    channels: ["slack:C0000DATA"]
    reason: on-deny
  - name: always-reason
    match: { action: "iam.*" }
    outcome: require
    approvers: [security, approvers]
    approvals: 1
    reason: always
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
  reason: none
`;

/**
 * The test API keys. `agent` and `agent2` submit for the same owner (ops-lead); `approver` is an approval portal that
 * attests its users' votes; `admin` reads everything and manages the directory; `reader` only reads.
 */
export const KEYS = {
  agent: 'agent-secret-0123456789abcdef',
  agent2: 'agent2-secret-0123456789abcdef',
  approver: 'portal-secret-0123456789abcdef',
  admin: 'admin-secret-0123456789abcdef',
  reader: 'reader-secret-0123456789abcdef',
} as const;

export interface TestApp {
  app: App;
  baseUrl: string;
  db: App['db'];
  config: Config;
  database: TestDatabase;
  keys: typeof KEYS;
  /** POST /v1/requests with the agent key (or another), returning status and JSON. */
  submit(body: unknown, opts?: { key?: string; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Any call to the API with a key: method, path, body. */
  call(method: string, pathname: string, opts?: { key?: string; body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Polls until `predicate` returns a truthy value (or throws after timeoutMs). */
  waitFor<T>(predicate: () => Promise<T | undefined | null | false>, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

export function baseRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    action: 'dataset.export',
    resource: 'warehouse://prod/customers',
    requester: { id: 'etl-agent-7', type: 'agent', model: 'gpt-5-mini', email: 'etl-agent@example.com' },
    onBehalfOf: { email: 'frank@example.com', name: 'Frank' },
    justification: 'Quarterly churn analysis requested in TICKET-4711',
    context: { rows: 120000, dataset: 'customers', ticket: 'TICKET-4711', db_password: 'hunter2' },
    risk: 'high',
    environment: 'production',
    ...overrides,
  };
}

export async function startTestApp(
  opts: {
    env?: Record<string, string>;
    policyYaml?: string;
    platforms?: readonly AnyChatPlatform[];
    database?: TestDatabase;
    redisPrefix?: string;
    keepDatabase?: boolean;
    /** The app's logger (default: one at LOG_LEVEL on stdout), e.g. to read what it logs. */
    log?: pino.Logger;
    /** Further composition-root options (e.g. a span exporter). */
    appOptions?: Partial<AppOptions>;
  } = {},
): Promise<TestApp> {
  const database = opts.database ?? (await createTestDatabase());
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-policy-'));
  const policyFile = path.join(dir, 'policy.yaml');
  writeFileSync(policyFile, opts.policyYaml ?? TEST_POLICY);
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // The runtime role, as in production: a grant the service lacks fails the test.
    DATABASE_URL: database.appUrl,
    DATABASE_POOL_SIZE: '10',
    // Per database, so an app restarted on the same database keeps its signing key and published checkpoints.
    DATA_DIR: path.join(tmpdir(), `cs-data-${database.name}`),
    REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_PREFIX: opts.redisPrefix ?? `cs-test-${randomBytes(5).toString('hex')}`,
    POLICY_FILE: policyFile,
    API_KEYS: [
      `agent:${KEYS.agent}:submit+read:ops-lead@example.com`,
      `agent2:${KEYS.agent2}:submit+read:ops-lead@example.com`,
      `portal:${KEYS.approver}:read+attest:portal-admin@example.com`,
      `admin:${KEYS.admin}:read+audit+admin`,
      `reader:${KEYS.reader}:read`,
    ].join(','),
    API_KEY_CACHE_MS: '0',
    DELIVERY_BACKOFF_MS: '20',
    DELIVERY_ATTEMPTS: '4',
    WORKER_CONCURRENCY: '5',
    ...opts.env,
  });
  const log = opts.log ?? createLogger(config.LOG_LEVEL);
  const app = await createApp(config, { ...opts.appOptions, log, platforms: opts.platforms });
  let address: string;
  try {
    address = await app.start();
  } catch (err) {
    // A start-up refusal (configuration, directory) must not leave connections behind that keep the test run alive.
    await app.stop().catch(() => undefined);
    if (!opts.keepDatabase && !opts.database) await database.drop();
    throw err;
  }
  const baseUrl = address.replace('0.0.0.0', '127.0.0.1');

  async function call(method: string, pathname: string, o: { key?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}) {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.key !== '') headers.authorization = `Bearer ${o.key ?? KEYS.admin}`;
    let body: string | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(baseUrl + pathname, { method, headers, body });
    const text = await res.text();
    let json: any = text;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON (NDJSON, metrics): keep the text */
    }
    return { status: res.status, body: json, headers: res.headers };
  }

  return {
    app,
    baseUrl,
    db: app.db,
    config,
    database,
    keys: KEYS,
    call,
    submit: (body, o = {}) => call('POST', '/v1/requests', { key: o.key ?? KEYS.agent, body, headers: o.headers }),
    async waitFor(predicate, timeoutMs = 10_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await predicate();
        if (v) return v as never;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async close() {
      await app.stop();
      if (opts.keepDatabase) return;
      await deleteRedisKeys(config.REDIS_URL, config.REDIS_PREFIX);
      await database.drop();
      rmSync(config.DATA_DIR, { recursive: true, force: true });
    },
  };
}

/** Removes every key of a test's prefix so runs leave Redis as they found it. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
