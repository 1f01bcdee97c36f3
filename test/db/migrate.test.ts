import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { applyMigrations, MigrationError, PRISMA_MIGRATE_LOCK_KEY } from '../../src/store/migrate';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const MIGRATIONS_DIR = path.resolve(__dirname, '../../prisma/migrations');
const MIGRATION_NAMES = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort((a, b) => a.localeCompare(b));
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params?: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function expectMigrationError(promise: Promise<unknown>, code: string, mentioning?: string): Promise<MigrationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MigrationError);
  const migrationError = error as MigrationError;
  expect(migrationError.code).toBe(code);
  if (mentioning) {
    expect(migrationError.message).toContain(mentioning);
    expect(migrationError.migration).toBe(mentioning);
  }
  return migrationError;
}

interface LedgerRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

const ledger = (url: string) => query<LedgerRow>(url, 'SELECT * FROM "_prisma_migrations" ORDER BY started_at, migration_name');

describe('applyMigrations', () => {
  const databases: TestDatabase[] = [];
  const tempDirs: string[] = [];

  async function emptyDatabase(): Promise<TestDatabase> {
    const db = await createTestDatabase({ empty: true });
    databases.push(db);
    return db;
  }

  /** A scratch copy of the real migrations directory, to modify or extend. */
  function copyOfMigrations(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-migrations-'));
    tempDirs.push(dir);
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    return dir;
  }

  afterAll(async () => {
    for (const db of databases) await db.drop();
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('applies every migration to a fresh database and records them the way prisma migrate deploy does', async () => {
    expect(MIGRATION_NAMES.slice(0, 2)).toEqual(['20261121000000_init', '20261121000100_audit_trail_guards']);
    expect([...MIGRATION_NAMES].sort((a, b) => a.localeCompare(b))).toEqual(MIGRATION_NAMES);
    const db = await emptyDatabase();
    const logged: object[] = [];
    const logger = { info: (obj: object) => logged.push(obj), error: (obj: object) => logged.push(obj) };

    const first = await applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, logger });
    expect(first).toEqual({ applied: MIGRATION_NAMES, alreadyApplied: [] });
    expect(logged.map((o) => (o as { migration: string }).migration)).toEqual(MIGRATION_NAMES);

    const rows = await ledger(db.url);
    expect(rows.map((r) => r.migration_name)).toEqual(MIGRATION_NAMES);
    for (const row of rows) {
      expect(row.id).toMatch(UUID_V4);
      expect(row.checksum).toBe(sha256File(path.join(MIGRATIONS_DIR, row.migration_name, 'migration.sql')));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
    }
    // The schema really is there, including the hand-written migrations' triggers.
    const triggers = await query<{ tgname: string }>(db.url, `SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE '%no_truncate' ORDER BY tgname`);
    expect(triggers.map((t) => t.tgname)).toEqual(['audit_checkpoint_no_truncate', 'audit_checkpoint_publication_no_truncate', 'audit_event_no_truncate', 'audit_leaf_no_truncate', 'audit_node_no_truncate']);

    const second = await applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR });
    expect(second).toEqual({ applied: [], alreadyApplied: MIGRATION_NAMES });
    expect(await ledger(db.url)).toEqual(rows);
  });

  it("creates _prisma_migrations with exactly Prisma's columns", async () => {
    const db = await emptyDatabase();
    await applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR });
    const columns = await query(
      db.url,
      `SELECT column_name, data_type, character_maximum_length AS len, is_nullable, column_default
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'character varying', len: 36, is_nullable: 'NO', column_default: null },
      { column_name: 'checksum', data_type: 'character varying', len: 64, is_nullable: 'NO', column_default: null },
      { column_name: 'finished_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'YES', column_default: null },
      { column_name: 'migration_name', data_type: 'character varying', len: 255, is_nullable: 'NO', column_default: null },
      { column_name: 'logs', data_type: 'text', len: null, is_nullable: 'YES', column_default: null },
      { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'YES', column_default: null },
      { column_name: 'started_at', data_type: 'timestamp with time zone', len: null, is_nullable: 'NO', column_default: 'now()' },
      { column_name: 'applied_steps_count', data_type: 'integer', len: null, is_nullable: 'NO', column_default: '0' },
    ]);
    const pk = await query<{ column_name: string }>(
      db.url,
      `SELECT a.attname AS column_name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = '"_prisma_migrations"'::regclass AND i.indisprimary`,
    );
    expect(pk).toEqual([{ column_name: 'id' }]);
  });

  it('refuses to run when an applied migration was modified, naming it', async () => {
    const dir = copyOfMigrations();
    const db = await emptyDatabase();
    await applyMigrations({ databaseUrl: db.url, migrationsDir: dir });

    const file = path.join(dir, '20261121000000_init', 'migration.sql');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- edited after the fact\n`);
    // A new migration waiting behind the modified one must not be applied either.
    mkdirSync(path.join(dir, '29991231000000_later'));
    writeFileSync(path.join(dir, '29991231000000_later', 'migration.sql'), 'CREATE TABLE later_table (id int);');

    await expectMigrationError(applyMigrations({ databaseUrl: db.url, migrationsDir: dir }), 'migration_modified', '20261121000000_init');
    expect((await ledger(db.url)).map((r) => r.migration_name)).toEqual(MIGRATION_NAMES);
    expect(await query(db.url, "SELECT to_regclass('later_table') AS t")).toEqual([{ t: null }]);
  });

  it('accepts an applied migration whose only change is CRLF line endings, as Prisma does', async () => {
    const dir = copyOfMigrations();
    const db = await emptyDatabase();
    await applyMigrations({ databaseUrl: db.url, migrationsDir: dir });
    const file = path.join(dir, '20261121000000_init', 'migration.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n/g, '\r\n'));
    await expect(applyMigrations({ databaseUrl: db.url, migrationsDir: dir })).resolves.toEqual({ applied: [], alreadyApplied: MIGRATION_NAMES });
  });

  it('records a failing migration (logs set, finished_at NULL), rolls its script back, and refuses the next run like P3009', async () => {
    const dir = copyOfMigrations();
    const broken = '29991231000000_broken';
    mkdirSync(path.join(dir, broken));
    writeFileSync(path.join(dir, broken, 'migration.sql'), 'CREATE TABLE half_done (id int);\nSELECT 1 / 0;\n');
    writeFileSync(path.join(dir, 'README.txt'), 'not a migration: files beside the directories are ignored');
    const db = await emptyDatabase();
    const errors: object[] = [];
    const logger = { info: () => undefined, error: (obj: object) => errors.push(obj) };

    await expectMigrationError(applyMigrations({ databaseUrl: db.url, migrationsDir: dir, logger }), 'migration_failed', broken);
    expect(errors).toEqual([expect.objectContaining({ migration: broken })]);

    const rows = await ledger(db.url);
    expect(rows.map((r) => r.migration_name)).toEqual([...MIGRATION_NAMES, broken]);
    const failed = rows[MIGRATION_NAMES.length];
    expect(failed.finished_at).toBeNull();
    expect(failed.rolled_back_at).toBeNull();
    expect(failed.applied_steps_count).toBe(0);
    expect(failed.logs).toContain('division by zero');
    expect(failed.logs).toContain('22012');
    expect(failed.checksum).toBe(sha256File(path.join(dir, broken, 'migration.sql')));
    // The whole script ran as one implicit transaction: its first statement was rolled back too.
    expect(await query(db.url, "SELECT to_regclass('half_done') AS t")).toEqual([{ t: null }]);

    // Fixing the file is not enough: the failure must be resolved first, as with Prisma.
    writeFileSync(path.join(dir, broken, 'migration.sql'), 'CREATE TABLE half_done (id int);\n');
    await expectMigrationError(applyMigrations({ databaseUrl: db.url, migrationsDir: dir }), 'migration_failed_previously', broken);

    // `prisma migrate resolve --rolled-back` sets rolled_back_at; the runner then applies the fixed migration.
    await query(db.url, 'UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1', [broken]);
    await expect(applyMigrations({ databaseUrl: db.url, migrationsDir: dir })).resolves.toEqual({
      applied: [broken],
      alreadyApplied: MIGRATION_NAMES,
    });
    expect(await query(db.url, "SELECT to_regclass('half_done')::text AS t")).toEqual([{ t: 'half_done' }]);
  });

  it('serialises concurrent runs on the advisory lock so each migration is applied once', async () => {
    const db = await emptyDatabase();
    const results = await Promise.all(
      [1, 2, 3].map(() => applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR })),
    );
    expect(results.flatMap((r) => r.applied).sort()).toEqual(MIGRATION_NAMES);
    expect(await ledger(db.url)).toHaveLength(MIGRATION_NAMES.length);
  });

  it('gives up with lock_timeout while another run holds the lock, and leaves no connection behind', async () => {
    const db = await emptyDatabase();
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
      const started = Date.now();
      const error = await expectMigrationError(
        applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, lockTimeoutMs: 300 }),
        'lock_timeout',
      );
      expect(error.message).toContain(String(PRISMA_MIGRATE_LOCK_KEY));
      expect(Date.now() - started).toBeLessThan(5000);
      const others = await holder.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
      expect(others.rows[0].n).toBe(0);
    } finally {
      await holder.end();
    }
    // Nothing was applied while locked out; once free, the run goes through.
    await expect(applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR })).resolves.toEqual({
      applied: MIGRATION_NAMES,
      alreadyApplied: [],
    });
  });
});
