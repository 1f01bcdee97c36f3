/**
 * `npm run db:migrate` (and the first step of `npm start`): connects as the owner (MIGRATION_DATABASE_URL, default
 * DATABASE_URL), creates the database if it does not exist yet, applies prisma/migrations with the offline runner
 * (src/store/migrate.ts), then creates or re-grants the runtime role DATABASE_URL connects as, when that is another
 * role. Reads `.env` like the service. Works from src/ under tsx and from dist/src/ after `tsc`, and needs no network access.
 */
import pino from 'pino';
import { ConfigError, loadDatabaseUrls, loadDotEnv } from '../config/config';
import { applyMigrations, credentialsOf, databaseNameOf, ensureDatabaseExists, findMigrationsDir, MigrationError, redactUrl } from '../store/migrate';
import type { RuntimeRole } from '../store/runtime-role';

export { findMigrationsDir };

/**
 * The runtime role DATABASE_URL names, when it is not the migration role; undefined when both URLs use one role (the
 * quick start), in which case the service runs as the owner.
 */
export function runtimeRoleOf(urls: { databaseUrl: string; migrationDatabaseUrl: string }): RuntimeRole | undefined {
  const a = new URL(urls.databaseUrl);
  const b = new URL(urls.migrationDatabaseUrl);
  if (a.hostname !== b.hostname || (a.port || '5432') !== (b.port || '5432') || databaseNameOf(urls.databaseUrl) !== databaseNameOf(urls.migrationDatabaseUrl)) {
    throw new ConfigError(['MIGRATION_DATABASE_URL: must name the same server and database as DATABASE_URL (only the role differs)']);
  }
  const runtime = credentialsOf(urls.databaseUrl);
  return runtime.user === credentialsOf(urls.migrationDatabaseUrl).user ? undefined : { name: runtime.user, password: runtime.password };
}

async function main(): Promise<void> {
  const logger = pino({ name: 'db-migrate' });
  let database = '(unparsed)';
  try {
    // The same .env the service reads: otherwise the service would start on a database this never migrated.
    loadDotEnv();
    const urls = loadDatabaseUrls();
    const databaseUrl = urls.migrationDatabaseUrl;
    database = redactUrl(databaseUrl);
    const runtimeRole = runtimeRoleOf(urls);
    const migrationsDir = findMigrationsDir(__dirname);
    if (await ensureDatabaseExists(databaseUrl)) logger.info({ database }, 'created database');
    const { applied, alreadyApplied } = await applyMigrations({ databaseUrl, migrationsDir, logger, runtimeRole });
    logger.info({ database, applied: applied.length, alreadyApplied: alreadyApplied.length, runtimeRole: runtimeRole?.name ?? null }, 'database is up to date');
    if (!runtimeRole) {
      logger.warn(
        { role: credentialsOf(databaseUrl).user },
        'DATABASE_URL and MIGRATION_DATABASE_URL use the same role: the service runs as the owner of the audit tables, which may switch off ' +
          'their append-only triggers. Give DATABASE_URL another role (README, Migrations) and db:migrate grants it only what the service needs.',
      );
    }
  } catch (error) {
    const e = error as Error & { code?: string };
    const code = error instanceof MigrationError ? error.code : (e.code ?? 'error');
    // pg error messages never contain the connection string; the URL is logged only in redacted form.
    logger.error({ database, code, migration: (error as MigrationError).migration }, `database migration failed: ${e.message}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
