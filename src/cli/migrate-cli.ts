/**
 * `npm run db:migrate` (and the first step of `npm start`): creates the database named by DATABASE_URL if it does not
 * exist yet, then applies prisma/migrations with the offline runner (src/store/migrate.ts). Works from src/ under tsx and from dist/src/
 * after `tsc`, and needs no network access.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { applyMigrations, ensureDatabaseExists, MigrationError, redactUrl } from '../store/migrate';

const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/countersign';

/**
 * The nearest ancestor of `startDir` holding `prisma/migrations`: the repo root whether this file runs from src/cli or
 * dist/src/cli.
 */
export function findMigrationsDir(startDir: string): string {
  for (let dir = path.resolve(startDir); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`no prisma/migrations directory above ${startDir}`);
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
