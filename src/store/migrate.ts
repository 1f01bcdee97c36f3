/**
 * An offline migration runner that keeps the same ledger as `prisma migrate deploy` (the `_prisma_migrations` table),
 * so a database can be migrated by either one interchangeably. Prisma 7's CLI must download a native engine before it
 * runs any migration, which air-gapped installs cannot do; this needs only the `pg` driver.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { grantRuntimeRole, RuntimeRoleError, type RuntimeRole } from './runtime-role';

/** The minimal logger surface the runner needs; a pino logger satisfies it. */
export interface MigrationLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Why a migration run stopped. `code` is one of:
 * - `migration_failed_previously`: a migration in the ledger failed and was not resolved (Prisma's P3009);
 * - `migration_modified`: an applied migration's `migration.sql` no longer matches its recorded checksum;
 * - `migration_failed`: a migration script failed now (its ledger row keeps the error in `logs`);
 * - `migration_file_missing`: a migration directory has no readable `migration.sql`;
 * - `lock_timeout`: another migration run held the advisory lock for too long;
 * - `connection_failed`: the database could not be reached;
 * - `runtime_role_missing`: the runtime role does not exist and the migration role may not create it;
 * - `runtime_role_privileged`: the runtime role is a superuser or owns the tables, so granting it less means nothing.
 */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';

  constructor(
    readonly code: string,
    message: string,
    /** The migration concerned, when there is one. */
    readonly migration?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The advisory lock key Prisma's schema engine takes around every migrate command. */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;

const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

// Column for column what Prisma's schema engine creates, so `prisma migrate` accepts a table we created and vice versa.
const CREATE_LEDGER_SQL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface LocalMigration {
  name: string;
  script: string;
  checksum: string;
  /** Checksums of the same script with other line endings: a git checkout may convert them, which Prisma tolerates. */
  acceptedChecksums: Set<string>;
}

interface LedgerRow {
  id: string;
  checksum: string;
  migration_name: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function readLocalMigrations(migrationsDir: string): Promise<LocalMigration[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b));
  const migrations: LocalMigration[] = [];
  for (const name of names) {
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(migrationsDir, name, 'migration.sql'));
    } catch (error) {
      throw new MigrationError('migration_file_missing', `migration ${name} has no readable migration.sql`, name, { cause: error });
    }
    const text = bytes.toString('utf8');
    const lf = text.replace(/\r\n/g, '\n');
    migrations.push({
      name,
      script: text,
      checksum: sha256Hex(bytes),
      acceptedChecksums: new Set([sha256Hex(bytes), sha256Hex(Buffer.from(lf)), sha256Hex(Buffer.from(lf.replace(/\n/g, '\r\n')))]),
    });
  }
  return migrations;
}

/** What a Prisma-style `logs` column holds for a failed script: enough to diagnose without the server log. */
function describeDbError(error: unknown): string {
  const e = error as Partial<pg.DatabaseError> & { message?: string };
  const lines = [e.message ?? String(error)];
  if (e.code) lines.push('', `Database error code: ${e.code}`);
  if (e.detail) lines.push('', `DETAIL: ${e.detail}`);
  if (e.hint) lines.push('', `HINT: ${e.hint}`);
  if (e.where) lines.push('', `CONTEXT: ${e.where}`);
  if (e.position) lines.push('', `Position: character ${e.position}`);
  return lines.join('\n');
}

async function acquireLock(client: pg.Client, timeoutMs: number): Promise<void> {
  // lock_timeout bounds the wait inside the server, so no polling loop and no queue-jumping by later callers;
  // it is reset right after so it does not apply to the migration scripts themselves.
  await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${Math.max(1, Math.round(timeoutMs))}ms`]);
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
  } catch (error) {
    if ((error as pg.DatabaseError).code === '55P03') {
      throw new MigrationError(
        'lock_timeout',
        `timed out after ${timeoutMs} ms waiting for the migration lock (pg_advisory_lock(${PRISMA_MIGRATE_LOCK_KEY})): ` +
          'another migration is running against this database',
        undefined,
        { cause: error },
      );
    }
    throw error;
  } finally {
    await client.query('RESET lock_timeout');
  }
}

/**
 * Applies every migration under `migrationsDir` that the database's `_prisma_migrations` ledger does not list as
 * applied, exactly as `prisma migrate deploy` would: under `pg_advisory_lock(72707369)`, in `localeCompare` order of
 * the directory names, each `migration.sql` sent as one multi-statement simple query (one implicit transaction).
 *
 * Refuses to start (throwing {@link MigrationError}) while a failed migration is unresolved or when an applied
 * migration's file was modified; a failing script is recorded in the ledger (`logs`, `finished_at` NULL) and throws.
 *
 * @param opts.databaseUrl - Postgres connection string; a `schema` query parameter selects the schema, as in Prisma.
 * @param opts.migrationsDir - Directory holding one subdirectory per migration (other files are ignored).
 * @param opts.logger - Receives one `info` line per applied migration and an `error` line for a failed one.
 * @param opts.lockTimeoutMs - How long to wait for a concurrent run's lock; 10 s like Prisma.
 * @param opts.runtimeRole - The role the service runs as, when it is not the one migrating: created if needed, then
 *   granted exactly what the service needs (src/store/runtime-role.ts), under the same lock.
 * @returns The names applied by this call, and those already applied before it.
 */
export async function applyMigrations(opts: {
  databaseUrl: string;
  migrationsDir: string;
  logger?: MigrationLogger;
  lockTimeoutMs?: number;
  runtimeRole?: RuntimeRole;
}): Promise<{ applied: string[]; alreadyApplied: string[] }> {
  const { logger } = opts;
  const local = await readLocalMigrations(opts.migrationsDir);
  const schema = new URL(opts.databaseUrl).searchParams.get('schema') ?? 'public';

  const client = new pg.Client({ connectionString: opts.databaseUrl, application_name: 'countersign-migrate' });
  // Without a listener, a connection dropped by the server would crash the process instead of failing the query.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    const reason = (error as Error).message;
    throw new MigrationError('connection_failed', `cannot connect to the database: ${reason}`, undefined, { cause: error });
  }

  let locked = false;
  try {
    await acquireLock(client, opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    locked = true;

    const schemaExists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    const quotedSchema = `"${schema.replace(/"/g, '""')}"`;
    // Only when missing: CREATE SCHEMA IF NOT EXISTS still needs CREATE rights, which a least-privilege role may lack.
    if (schemaExists.rowCount === 0) await client.query(`CREATE SCHEMA ${quotedSchema}`);
    await client.query(`SET search_path TO ${quotedSchema}`);
    await client.query(CREATE_LEDGER_SQL);

    const { rows } = await client.query<LedgerRow>(
      'SELECT id, checksum, migration_name, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at, migration_name',
    );

    const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
    if (failed) {
      throw new MigrationError(
        'migration_failed_previously',
        `migration ${failed.migration_name} failed in an earlier run and is still marked as failed (like Prisma's P3009); ` +
          'fix the database, then mark it rolled back (`prisma migrate resolve --rolled-back` or set rolled_back_at) ' +
          'or applied (`prisma migrate resolve --applied`) before migrating again',
        failed.migration_name,
      );
    }

    const applied = rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null);
    const localByName = new Map(local.map((m) => [m.name, m]));
    for (const row of applied) {
      const file = localByName.get(row.migration_name);
      if (file && !file.acceptedChecksums.has(row.checksum)) {
        throw new MigrationError(
          'migration_modified',
          `migration ${row.migration_name} was modified after it was applied (checksum ${row.checksum} in the database, ` +
            `${file.checksum} on disk); restore the original file and put the change in a new migration`,
          row.migration_name,
        );
      }
    }
    const appliedNames = new Set(applied.map((r) => r.migration_name));
    for (const name of appliedNames) {
      if (!localByName.has(name)) {
        logger?.info({ migration: name }, 'migration applied to the database is missing from the migrations directory');
      }
    }

    const alreadyApplied = local.filter((m) => appliedNames.has(m.name)).map((m) => m.name);
    const appliedNow: string[] = [];
    for (const migration of local) {
      if (appliedNames.has(migration.name)) continue;
      const id = randomUUID();
      const started = Date.now();
      await client.query('INSERT INTO "_prisma_migrations" (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)', [
        id,
        migration.checksum,
        migration.name,
      ]);
      try {
        // No parameters: pg then uses the simple query protocol, which accepts many statements (and $$ bodies) at once.
        await client.query(migration.script);
      } catch (error) {
        const logs = describeDbError(error);
        try {
          // A script that opened its own transaction block leaves it aborted; outside one this is only a warning.
          await client.query('ROLLBACK');
          await client.query('UPDATE "_prisma_migrations" SET logs = $1 WHERE id = $2', [logs, id]);
        } catch {
          // The connection itself may be gone: the ledger row still says "failed" (finished_at NULL), which is what matters.
        }
        logger?.error({ migration: migration.name, error: logs }, 'migration failed');
        throw new MigrationError('migration_failed', `migration ${migration.name} failed: ${(error as Error).message}`, migration.name, {
          cause: error,
        });
      }
      await client.query(
        'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = applied_steps_count + 1 WHERE id = $1',
        [id],
      );
      appliedNow.push(migration.name);
      logger?.info({ migration: migration.name, durationMs: Date.now() - started }, 'migration applied');
    }
    if (opts.runtimeRole) {
      try {
        const { ungranted } = await grantRuntimeRole(client, { role: opts.runtimeRole, schema, log: (msg) => logger?.info({ role: opts.runtimeRole!.name }, msg) });
        logger?.info({ role: opts.runtimeRole.name, ungranted }, 'runtime role granted');
      } catch (error) {
        if (error instanceof RuntimeRoleError) throw new MigrationError(error.code, error.message, undefined, { cause: error });
        throw error;
      }
    }
    return { applied: appliedNow, alreadyApplied };
  } finally {
    if (locked) await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/**
 * The nearest ancestor of `startDir` holding `prisma/migrations`: the repo root whether the code runs from src/ or
 * dist/src/ (the container image ships prisma/ next to dist/).
 */
export function findMigrationsDir(startDir: string): string {
  for (let dir = path.resolve(startDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`no prisma/migrations directory above ${startDir}`);
  }
}

/** The names of the migrations under `migrationsDir` (one subdirectory each), in the order they are applied. */
export async function shippedMigrations(migrationsDir: string): Promise<string[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort((a, b) => a.localeCompare(b));
}

/** Whether a database's schema is the one this build expects; `reason` says what to do when it is not. */
export type MigrationState = { ok: true } | { ok: false; code: 'migrations_missing' | 'migrations_behind' | 'migration_failed' | 'ledger_unreadable'; reason: string };

/**
 * Compares the database's migration ledger with the migrations this build ships, for readiness: a service whose
 * tables are missing or older than its code answers every call with an error, so it must not be taken for ready.
 * Read-only (the runtime role is granted SELECT on the ledger by `npm run db:migrate`). A database error other than
 * a missing or unreadable ledger is thrown, so the caller reports PostgreSQL itself.
 */
export async function migrationState(sql: Pick<pg.ClientBase, 'query'>, shipped: readonly string[]): Promise<MigrationState> {
  let rows: Pick<LedgerRow, 'migration_name' | 'finished_at' | 'rolled_back_at'>[];
  try {
    ({ rows } = await sql.query<LedgerRow>('SELECT migration_name, finished_at, rolled_back_at FROM "_prisma_migrations"'));
  } catch (error) {
    const code = (error as pg.DatabaseError).code;
    // 42P01 undefined_table: never migrated. 42501 insufficient_privilege: migrated by an older release's runner.
    if (code === '42P01') return { ok: false, code: 'migrations_missing', reason: 'the database has no tables yet (no migration ledger): run `npm run db:migrate`' };
    if (code === '42501') return { ok: false, code: 'ledger_unreadable', reason: 'cannot read the migration ledger (permission denied): run `npm run db:migrate`, which grants the runtime role SELECT on it' };
    throw error;
  }
  const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
  if (failed) return { ok: false, code: 'migration_failed', reason: `migration ${failed.migration_name} failed and is unresolved (see \`npm run db:migrate\`)` };
  const applied = new Set(rows.filter((r) => r.finished_at !== null && r.rolled_back_at === null).map((r) => r.migration_name));
  const missing = shipped.filter((name) => !applied.has(name));
  if (missing.length === shipped.length && shipped.length > 0) {
    return { ok: false, code: 'migrations_missing', reason: `no migration of this build is applied (${shipped.length} pending): run \`npm run db:migrate\`` };
  }
  if (missing.length) return { ok: false, code: 'migrations_behind', reason: `${missing.length} migration(s) not applied: ${missing.join(', ')}; run \`npm run db:migrate\`` };
  return { ok: true };
}

/** `url` with its database name replaced by `database`, keeping host, credentials and options. */
export function withDatabaseName(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The database name in a Postgres URL (Postgres' own default, the user name, when absent). */
export function databaseNameOf(url: string): string {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return name || decodeURIComponent(u.username) || 'postgres';
}

/** The user name and password a Postgres URL connects with (Postgres' default user when absent). */
export function credentialsOf(url: string): { user: string; password?: string } {
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || process.env.PGUSER || process.env.USER || 'postgres';
  return u.password ? { user, password: decodeURIComponent(u.password) } : { user };
}

/** `url` without its password, fit for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (/pass|secret|key/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '<unparseable database URL>';
  }
}

/**
 * Creates the database `url` names when it does not exist, through the server's `postgres` maintenance database, so a
 * fresh machine needs no manual `createdb`. Returns whether it created it.
 */
export async function ensureDatabaseExists(url: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: url });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return false;
  } catch (error) {
    // 3D000 invalid_catalog_name: anything else (auth, network) is not ours to fix here.
    if ((error as pg.DatabaseError).code !== '3D000') throw error;
  } finally {
    await probe.end().catch(() => undefined);
  }

  const name = databaseNameOf(url);
  const admin = new pg.Client({ connectionString: withDatabaseName(url, 'postgres') });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } catch (error) {
    // 42P04 duplicate_database: another instance starting at the same time won the race.
    if ((error as pg.DatabaseError).code === '42P04') return false;
    throw error;
  } finally {
    await admin.end().catch(() => undefined);
  }
}
