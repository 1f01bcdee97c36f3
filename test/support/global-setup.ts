/**
 * Jest global setup: migrates one template database for the whole run with the real runner, as the owner, granting the
 * runtime role the app runs as (clones keep the grants), so every test file starts from exactly what
 * `npm run db:migrate` produces. Its name and the run id reach the test workers through process.env
 * (workers inherit the environment of the process that ran this).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { applyMigrations, withDatabaseName } from '../../src/store/migrate';
import { adminQuery, quoteIdent, TEST_DATABASE_ADMIN_URL, TEST_RUNTIME_ROLE } from './test-database';

export default async function globalSetup(): Promise<void> {
  const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const template = `cs_tpl_${runId}`;
  process.env.CS_TEST_RUN_ID = runId;
  await adminQuery(`CREATE DATABASE ${quoteIdent(template)}`);
  process.env.CS_TEMPLATE_DB = template;
  try {
    await applyMigrations({
      databaseUrl: withDatabaseName(TEST_DATABASE_ADMIN_URL, template),
      migrationsDir: path.resolve(__dirname, '../../prisma/migrations'),
      runtimeRole: { name: TEST_RUNTIME_ROLE },
    });
  } catch (error) {
    // Jest skips global teardown when setup throws.
    await adminQuery(`DROP DATABASE IF EXISTS ${quoteIdent(template)} WITH (FORCE)`);
    throw error;
  }
}
