/**
 * Readiness tells the truth: /readyz fails (503) while the database lacks migrations this build ships or PostgreSQL
 * cannot answer, and names why; /healthz stays liveness only. Chat channels' readiness is tested with their adapters
 * (test/slack/slack-socket-mode.test.ts, test/teams/teams-readiness.test.ts).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config/config';
import { createLogger } from '../../src/observability/logger';
import { startTestApp, type TestApp } from '../support/start-app';
import { startTcpProxy } from '../support/tcp-proxy';
import { createTestDatabase, TEST_RUNTIME_ROLE, asRole } from '../support/test-database';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function ownerQuery(url: string, sql: string, params?: unknown[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

it('is ready when PostgreSQL, Redis and every migration are there', async () => {
  const res = await t.call('GET', '/readyz', { key: '' });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', migrations: 'ok' } });
});

it('is not ready while the database is behind the migrations this build ships, and names them', async () => {
  const { rows } = await ownerQuery(t.database.url, 'DELETE FROM "_prisma_migrations" WHERE migration_name = (SELECT max(migration_name) FROM "_prisma_migrations") RETURNING *');
  const latest = rows[0];
  try {
    const res = await t.call('GET', '/readyz', { key: '' });
    expect(res.status).toBe(503);
    expect(res.body.status).toBe('unavailable');
    expect(res.body.checks.migrations).toBe(`migrations_behind: 1 migration(s) not applied: ${latest.migration_name}; run \`npm run db:migrate\``);
    // Liveness is another question: the process is alive.
    expect((await t.call('GET', '/healthz', { key: '' })).status).toBe(200);
  } finally {
    const cols = Object.keys(latest);
    await ownerQuery(t.database.url, `INSERT INTO "_prisma_migrations" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => latest[c]));
  }
  expect((await t.call('GET', '/readyz', { key: '' })).status).toBe(200);
});

it('is not ready while a migration is marked failed', async () => {
  await ownerQuery(t.database.url, `INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ($1, 'x', '29990101000000_broken')`, [
    '00000000-0000-4000-8000-' + randomBytes(6).toString('hex'),
  ]);
  try {
    const res = await t.call('GET', '/readyz', { key: '' });
    expect(res.status).toBe(503);
    expect(res.body.checks.migrations).toMatch(/^migration_failed: migration 29990101000000_broken failed/);
  } finally {
    await ownerQuery(t.database.url, `DELETE FROM "_prisma_migrations" WHERE migration_name = '29990101000000_broken'`);
  }
});

it('is not ready on a database without tables (never migrated)', async () => {
  const empty = await createTestDatabase({ empty: true });
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    DATABASE_URL: asRole(empty.url, TEST_RUNTIME_ROLE),
    REDIS_PREFIX: `cs-test-${randomBytes(5).toString('hex')}`,
    DATA_DIR: path.join(t.config.DATA_DIR, 'empty'),
  });
  const app = await createApp(config, { log: createLogger('silent') });
  try {
    const res = await app.server.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().checks).toMatchObject({
      postgres: 'ok',
      migrations: 'migrations_missing: the database has no tables yet (no migration ledger): run `npm run db:migrate`',
    });
  } finally {
    await app.stop();
    await empty.drop();
  }
});

it('names why PostgreSQL is unavailable (never an empty reason)', async () => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
  const viaProxy = await startTestApp({
    env: { DATABASE_URL: t.database.appUrl.replace(':5432/', `:${proxy.port}/`), RUN_MODE: 'api' },
    database: t.database,
    keepDatabase: true,
  });
  try {
    expect((await viaProxy.call('GET', '/readyz', { key: '' })).status).toBe(200);
    proxy.cut();
    const res = await viaProxy.call('GET', '/readyz', { key: '' });
    expect(res.status).toBe(503);
    expect(res.body.checks.postgres).toMatch(/^unavailable: \S.{3,}/);
    expect(res.body.checks.migrations).toBe('unknown: PostgreSQL is unavailable');
    expect(res.body.checks.redis).toBe('ok');
  } finally {
    await viaProxy.close();
    await proxy.close();
  }
});
