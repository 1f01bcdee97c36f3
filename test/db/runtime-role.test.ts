/**
 * `npm run db:migrate` and the runtime role: migrating as the owner creates the role DATABASE_URL names (with its
 * password as a SCRAM verifier), grants it exactly what the service needs, tolerates two runs creating the same role
 * at once, and refuses a runtime role that could rewrite the trail anyway.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { runtimeRoleOf } from '../../src/cli/migrate-cli';
import { ConfigError } from '../../src/config/config';
import { applyMigrations, MigrationError } from '../../src/store/migrate';
import { scramVerifier } from '../../src/store/runtime-role';
import { adminQuery, createTestDatabase, quoteIdent, type TestDatabase } from '../support/test-database';

const MIGRATIONS_DIR = path.resolve(__dirname, '../../prisma/migrations');
const roles: string[] = [];
const databases: TestDatabase[] = [];
/** Migrated by the first test, reused by the refusal test. */
let migrated: TestDatabase;

function freshRole(): string {
  const name = `cs_rt_${randomBytes(4).toString('hex')}`;
  roles.push(name);
  return name;
}

async function emptyDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ empty: true });
  databases.push(db);
  return db;
}

afterAll(async () => {
  for (const db of databases) await db.drop();
  for (const role of roles) await adminQuery(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
});

it('creates the runtime role with its password as a SCRAM verifier, and grants only what the service needs', async () => {
  const db = await emptyDatabase();
  migrated = db;
  const role = freshRole();
  await applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, runtimeRole: { name: role, password: 'correct horse battery' } });
  const [stored] = (await adminQuery('SELECT rolpassword, rolcanlogin, rolsuper, rolcreaterole FROM pg_authid WHERE rolname = $1', [role])).rows;
  expect(stored).toMatchObject({ rolcanlogin: true, rolsuper: false, rolcreaterole: false });
  // The server holds a verifier of that password (same salt, same result), never the password.
  const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored.rolpassword)!;
  expect(scramVerifier('correct horse battery', Buffer.from(salt, 'base64'), Number(iterations))).toBe(stored.rolpassword);

  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT has_table_privilege($1, 'audit_event', 'INSERT') AS ins, has_table_privilege($1, 'audit_event', 'UPDATE') AS upd, has_table_privilege($1, 'vote', 'UPDATE') AS vote_upd, has_table_privilege($1, 'delivery', 'UPDATE') AS delivery_upd`, [role]);
    expect(rows[0]).toEqual({ ins: true, upd: false, vote_upd: false, delivery_upd: true });
    // Migrating again re-grants from scratch: a privilege added by hand is taken back.
    await client.query(`GRANT UPDATE ON audit_event TO ${quoteIdent(role)}`);
  } finally {
    await client.end();
  }
  await applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, runtimeRole: { name: role } });
  const check = new pg.Client({ connectionString: db.url });
  await check.connect();
  const again = await check.query(`SELECT has_table_privilege($1, 'audit_event', 'UPDATE') AS upd`, [role]).finally(() => check.end());
  expect(again.rows[0].upd).toBe(false);
});

it('tolerates two migrations creating the same role at the same moment (duplicate_object)', async () => {
  const [a, b] = await Promise.all([emptyDatabase(), emptyDatabase()]);
  const role = freshRole();
  const runs = await Promise.allSettled([a, b].map((db) => applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, runtimeRole: { name: role } })));
  expect(runs.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  for (const db of [a, b]) {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(`SELECT has_table_privilege($1, 'audit_leaf', 'INSERT') AS ok`, [role]);
      expect(rows[0].ok).toBe(true);
    } finally {
      await client.end();
    }
  }
});

it('refuses a runtime role that owns the tables or is a superuser', async () => {
  const db = migrated;
  await expect(applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, runtimeRole: { name: 'postgres' } })).rejects.toMatchObject({ code: 'runtime_role_privileged' });
  const err = await applyMigrations({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, runtimeRole: { name: 'postgres' } }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MigrationError);
});

it('derives the runtime role from the two URLs', () => {
  expect(runtimeRoleOf({ databaseUrl: 'postgresql://postgres@h:5432/cs', migrationDatabaseUrl: 'postgresql://postgres@h:5432/cs' })).toBeUndefined();
  expect(runtimeRoleOf({ databaseUrl: 'postgresql://app:s%40cret@h/cs', migrationDatabaseUrl: 'postgresql://owner:x@h:5432/cs' })).toEqual({ name: 'app', password: 's@cret' });
  expect(() => runtimeRoleOf({ databaseUrl: 'postgresql://app@h/cs', migrationDatabaseUrl: 'postgresql://owner@h/other' })).toThrow(ConfigError);
});
