/** Jest global teardown: drops the run's template database and any test database the run left behind. */
import { adminQuery, quoteIdent, TEST_DATABASE_PREFIX } from './test-database';

export default async function globalTeardown(): Promise<void> {
  const runId = process.env.CS_TEST_RUN_ID;
  const template = process.env.CS_TEMPLATE_DB;
  if (!runId) return;
  const { rows } = await adminQuery('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [
    `${TEST_DATABASE_PREFIX}${runId}_`,
  ]);
  const names = rows.map((r: { datname: string }) => r.datname);
  if (template) names.push(template);
  for (const name of names) await adminQuery(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}
