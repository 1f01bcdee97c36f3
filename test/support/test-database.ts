/**
 * Per-test-file Postgres databases. Jest's global setup migrates one template database per run; each test file
 * clones it (`CREATE DATABASE … TEMPLATE …`, a file copy, far faster than migrating) so files never see each other's
 * rows and can run in parallel workers.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { withDatabaseName } from '../../src/store/migrate';

/** The maintenance connection used to create and drop test databases. */
export const TEST_DATABASE_ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Prefix of every database a test run clones; global teardown drops those of its own run. */
export const TEST_DATABASE_PREFIX = 'cs_t_';

/**
 * The runtime role the app runs as in tests, as in production: global setup migrates as the owner (the admin URL's
 * role) and grants this role what the service needs, so a missing grant fails the suite. Roles are per server, so
 * concurrent runs share it (granting is idempotent and tolerates a concurrent run).
 */
export const TEST_RUNTIME_ROLE = process.env.TEST_RUNTIME_ROLE || 'cs_test_app';

/** `url` connecting as `user` instead (trust authentication locally; no password). */
export function asRole(url: string, user: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = '';
  return u.toString();
}

/** A database created for one test file. */
export interface TestDatabase {
  /** As the owner (the admin URL's role): what migrations, fixtures and tampering use. */
  url: string;
  /** As the runtime role: what the app connects with. */
  appUrl: string;
  name: string;
  /** Drops the database, disconnecting anyone still connected. */
  drop(): Promise<void>;
}

/** Runs statements on the admin connection (CREATE/DROP DATABASE cannot run inside a transaction or with params). */
export async function adminQuery(sql: string, params?: unknown[]): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_ADMIN_URL });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** Quotes a Postgres identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function runId(): string {
  const id = process.env.CS_TEST_RUN_ID;
  if (!id) throw new Error('CS_TEST_RUN_ID is not set: run the tests through jest (test/support/global-setup.ts)');
  return id;
}

/**
 * Creates a uniquely named database for one test file: by default a clone of the run's migrated template, or with
 * `{ empty: true }` an empty database (for testing the migration runner itself).
 */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const template = opts.empty ? 'template0' : process.env.CS_TEMPLATE_DB;
  if (!template) throw new Error('CS_TEMPLATE_DB is not set: run the tests through jest (test/support/global-setup.ts)');
  const name = `${TEST_DATABASE_PREFIX}${runId()}_${randomBytes(4).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`);
      break;
    } catch (error) {
      // 55006: the template briefly has another connection (e.g. a clone being created by another worker).
      if ((error as pg.DatabaseError).code !== '55006' || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    name,
    url: withDatabaseName(TEST_DATABASE_ADMIN_URL, name),
    appUrl: asRole(withDatabaseName(TEST_DATABASE_ADMIN_URL, name), TEST_RUNTIME_ROLE),
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
  };
}
