/**
 * The audit trail and the transparency log's tables in the database: appends are plain inserts stamped with their
 * transaction id; every one of these tables refuses UPDATE, DELETE and TRUNCATE even to its owner (SQLSTATE 55000);
 * and the runtime role, the one the service runs as, may only INSERT and SELECT them: it is refused UPDATE, DELETE,
 * TRUNCATE, ALTER TABLE, DISABLE TRIGGER and `SET session_replication_role` (SQLSTATE 42501).
 */
import pg from 'pg';
import { RUNTIME_GRANTS } from '../../src/store/runtime-role';
import { createTestDatabase, TEST_RUNTIME_ROLE, type TestDatabase } from '../support/test-database';

/** An UPDATE of each append-only table. */
const UPDATE: Record<string, string> = {
  audit_event: `UPDATE audit_event SET payload = replace(payload, 'bob', 'carol')`,
  audit_leaf: `UPDATE audit_leaf SET leaf_hash = '\\x01'`,
  audit_node: `UPDATE audit_node SET hash = '\\x01'`,
  audit_checkpoint: `UPDATE audit_checkpoint SET note = 'forged'`,
  audit_checkpoint_publication: `UPDATE audit_checkpoint_publication SET sink = 'nowhere'`,
};
const AUDIT_TABLES = Object.keys(UPDATE);

let db: TestDatabase;
let owner: pg.Client;
let runtime: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.url });
  runtime = new pg.Client({ connectionString: db.appUrl });
  await Promise.all([owner.connect(), runtime.connect()]);
  // One row in each table, written as the service would (the runtime role).
  const { rows } = await runtime.query(
    `INSERT INTO audit_event (type, actor, actor_ids, channel, at, payload) VALUES ('request.submitted', 'agent:ci', ARRAY['agent:ci'], 'api', now(), '{"who":"bob"}') RETURNING seq`,
  );
  await runtime.query(`INSERT INTO audit_leaf (leaf_index, seq, leaf_hash) VALUES (0, $1, '\\x00')`, [rows[0].seq]);
  await runtime.query(`INSERT INTO audit_node (level, idx, hash) VALUES (8, 0, '\\x00')`);
  await runtime.query(`INSERT INTO audit_checkpoint (tree_size, root_hash, origin, note, key_id, horizon) VALUES (1, '\\x00', 'o', 'n', 'k', 0)`);
  await runtime.query(`INSERT INTO audit_checkpoint_publication (tree_size, sink) VALUES (1, 'file')`);
});
afterAll(async () => {
  await Promise.all([owner?.end(), runtime?.end()]);
  await db?.drop();
});

async function errorOf(client: pg.Client, sql: string): Promise<pg.DatabaseError | undefined> {
  return client.query(sql).then(
    () => undefined,
    (e: pg.DatabaseError) => e,
  );
}

it('stamps each appended event with the inserting transaction, which the sealer uses to find late commits', async () => {
  await owner.query('BEGIN');
  const { rows } = await owner.query(
    `INSERT INTO audit_event (type, actor, actor_ids, channel, at, payload) VALUES ('t', 'a', ARRAY['a'], 'api', now(), '{}')
     RETURNING txid::text AS txid, pg_current_xact_id()::text AS xact`,
  );
  await owner.query('ROLLBACK');
  expect(rows[0].txid).toBe(rows[0].xact);
});

describe.each(AUDIT_TABLES)('%s', (table) => {
  it('refuses UPDATE, DELETE and TRUNCATE with SQLSTATE 55000, even to its owner', async () => {
    for (const sql of [UPDATE[table], `DELETE FROM ${table}`, `TRUNCATE ${table}`, `TRUNCATE ${table} CASCADE`]) {
      const err = await errorOf(owner, sql);
      expect({ sql, code: err?.code, message: err?.message }).toEqual({ sql, code: '55000', message: `${table} is append-only` });
    }
    const { rows } = await owner.query(`SELECT count(*)::int AS n FROM ${table}`);
    expect(rows[0].n).toBeGreaterThan(0);
  });

  it('the runtime role may insert and read it, and is refused everything else (42501)', async () => {
    await expect(runtime.query(`SELECT count(*) FROM ${table}`)).resolves.toBeDefined();
    const refused = [
      UPDATE[table],
      `DELETE FROM ${table}`,
      `TRUNCATE ${table}`,
      `ALTER TABLE ${table} DISABLE TRIGGER ALL`,
      `ALTER TABLE ${table} DISABLE TRIGGER USER`,
      `ALTER TABLE ${table} ADD COLUMN note text`,
      `DROP TABLE ${table}`,
      `CREATE TRIGGER sneaky BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()`,
    ];
    for (const sql of refused) {
      const err = await errorOf(runtime, sql);
      expect({ sql, code: err?.code }).toEqual({ sql, code: '42501' });
    }
  });
});

it('the runtime role cannot switch triggers off for its session, nor reset the event ids', async () => {
  for (const sql of ['SET session_replication_role = replica', "SELECT set_config('session_replication_role', 'replica', false)"]) {
    const err = await errorOf(runtime, sql);
    expect({ sql, code: err?.code }).toEqual({ sql, code: '42501' });
  }
  expect((await errorOf(runtime, "SELECT setval('audit_event_seq_seq', 1)"))?.code).toBe('42501');
  expect((await errorOf(runtime, 'ALTER FUNCTION audit_event_append_only() RENAME TO gone'))?.code).toBe('42501');
});

it('grants the runtime role exactly what src/store/runtime-role.ts lists, and owns it nothing', async () => {
  const { rows } = await owner.query<{ table_name: string; privilege_type: string }>(
    `SELECT table_name, privilege_type FROM information_schema.role_table_grants WHERE grantee = $1 AND table_schema = 'public' ORDER BY table_name, privilege_type`,
    [TEST_RUNTIME_ROLE],
  );
  const granted: Record<string, string[]> = {};
  for (const r of rows) (granted[r.table_name] ??= []).push(r.privilege_type);
  const expected = Object.fromEntries(Object.entries(RUNTIME_GRANTS).map(([t, p]) => [t, [...p].sort()]));
  expect(granted).toEqual(expected);
  const owned = await owner.query(`SELECT relname FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)`, [TEST_RUNTIME_ROLE]);
  expect(owned.rows).toEqual([]);
  // Every table the migrations create is classified (the migration ledger too: readiness reads it): a new table must say
  // what the service may do with it.
  const tables = await owner.query<{ relname: string }>(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relkind = 'r' ORDER BY relname`);
  expect(tables.rows.map((t) => t.relname)).toEqual(Object.keys(RUNTIME_GRANTS).sort());
});
