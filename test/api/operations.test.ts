/** Health, readiness, metrics, configuration errors and the key CLI. */
import { loadConfig, ConfigError } from '../../src/config/config';
import { runCli } from '../../src/cli/cli';
import { parseBootstrapKeys } from '../../src/services/api-key-service';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

it('serves health, readiness and Prometheus metrics without a key', async () => {
  expect((await t.call('GET', '/healthz', { key: '' })).body).toEqual({ status: 'ok' });
  expect((await t.call('GET', '/readyz', { key: '' })).body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', migrations: 'ok' } });
  await t.submit(baseRequest({ action: 'table.read', environment: 'dev' }));
  const metrics = (await t.call('GET', '/metrics', { key: '' })).body as string;
  expect(metrics).toMatch(/countersign_intake_total\{outcome="approve"\} [1-9]/);
  expect(metrics).toMatch(/countersign_intake_duration_seconds_bucket/);
  expect(metrics).toMatch(/countersign_queue_jobs\{queue="delivery",state="waiting"\}/);
});

it('reports every configuration problem at once, never echoing secrets', () => {
  let err: ConfigError | undefined;
  try {
    loadConfig({ PORT: 'eighty', RUN_MODE: 'both', SLACK_BOT_TOKEN: 'xoxb-very-secret', MICROSOFT_APP_ID: 'app' });
  } catch (e) {
    err = e as ConfigError;
  }
  expect(err).toBeInstanceOf(ConfigError);
  // Teams with an app id and no tenant would accept any tenant's users: that is a problem too.
  expect(err!.problems.map((p) => p.split(':')[0]).sort()).toEqual(['MICROSOFT_APP_PASSWORD', 'MICROSOFT_APP_TENANT_ID', 'PORT', 'RUN_MODE', 'SLACK_SIGNING_SECRET']);
  expect(err!.message).not.toContain('xoxb-very-secret');
});

it('parses API_KEYS and names the bad entry without printing its secret', () => {
  expect(parseBootstrapKeys('ci:abcdefghijklmnop:submit+read+audit:Ops@Example.com')).toEqual([
    { name: 'ci', secret: 'abcdefghijklmnop', scopes: ['submit', 'read', 'audit'], owner: 'ops@example.com' },
  ]);
  expect(parseBootstrapKeys('bot:abcdefghijklmnop::ops@example.com')[0].scopes).toEqual(['submit', 'read']);
  expect(() => parseBootstrapKeys('x:short,y:abcdefghijklmnop:fly')).toThrow(/entry 1 \(x\): secret[\s\S]*entry 2 \(y\): unknown scope/);
  expect(() => parseBootstrapKeys('x:supersecretvalue123:fly')).not.toThrow(/supersecretvalue123/);
});

it('creates a key with the CLI that works once and is refused after revoke', async () => {
  const out: string[] = [];
  const env = { DATABASE_URL: t.database.appUrl };
  expect(await runCli(['keys', 'create', '--name', 'cli-agent', '--scopes', 'submit+read', '--owner', 'op@example.com'], (s) => out.push(s), env)).toBe(0);
  const secret = out.at(-1)!;
  expect(secret).toMatch(/^cs_/);
  const row = await t.db.apiKey.findUnique({ where: { name: 'cli-agent' } });
  expect(row?.secretHash).not.toContain(secret);
  expect((await t.submit(baseRequest(), { key: secret })).status).toBe(202);
  expect(await runCli(['keys', 'revoke', '--name', 'cli-agent'], (s) => out.push(s), env)).toBe(0);
  expect((await t.submit(baseRequest(), { key: secret })).status).toBe(401);
  expect(await runCli(['keys', 'frobnicate'], (s) => out.push(s), env)).toBe(64);
});
