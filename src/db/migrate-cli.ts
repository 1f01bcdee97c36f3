/**
 * `npm run db:migrate` (and the first step of `npm start`): creates the database named by DATABASE_URL if it does not
 * exist yet, then applies prisma/migrations with the offline runner. Works from src/ under tsx and from dist/src/
 * after `tsc`, and needs no network access.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { applyMigrations, databaseNameOf, MigrationError, redactUrl, withDatabaseName } from './migrate';

const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/countersign';

/**
 * The nearest ancestor of `startDir` holding `prisma/migrations`: the repo root whether this file runs from src/db or
 * dist/src/db.
 */
export function findMigrationsDir(startDir: string): string {
  for (let dir = path.resolve(startDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`no prisma/migrations directory above ${startDir}`);
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

async function main(): Promise<void> {
  const logger = pino({ name: 'db-migrate' });
  const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const database = redactUrl(databaseUrl);
  try {
    const migrationsDir = findMigrationsDir(__dirname);
    if (await ensureDatabaseExists(databaseUrl)) logger.info({ database }, 'created database');
    const { applied, alreadyApplied } = await applyMigrations({ databaseUrl, migrationsDir, logger });
    logger.info({ database, applied: applied.length, alreadyApplied: alreadyApplied.length }, 'database is up to date');
  } catch (error) {
    const e = error as Error & { code?: string };
    const code = error instanceof MigrationError ? error.code : (e.code ?? 'error');
    // pg error messages never contain the connection string; the URL is logged only in redacted form.
    logger.error({ database, code, migration: (error as MigrationError).migration }, `database migration failed: ${e.message}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
