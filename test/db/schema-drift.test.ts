/**
 * NO DRIFT: the migrations must build exactly what prisma/schema.prisma declares. Prisma's own schema engine (the
 * WebAssembly build, so no native binary) compares them; any difference is printed as the SQL that would fix it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { diffDatabaseToSchema, diffMigrationsToSchema, diffSchemas } from '../../scripts/schema-engine';
import { createTestDatabase, TEST_DATABASE_ADMIN_URL, type TestDatabase } from '../support/test-database';

const MIGRATIONS_DIR = path.resolve(__dirname, '../../prisma/migrations');
const SCHEMA = readFileSync(path.resolve(__dirname, '../../prisma/schema.prisma'), 'utf8');

/** The schema with one column added to AuditCheckpointPublication, i.e. a schema change committed without its migration. */
function schemaWithUnmigratedChange(): string {
  const edited = SCHEMA.replace(/(model AuditCheckpointPublication \{\n)/, '$1  note     String?\n');
  expect(edited).not.toBe(SCHEMA);
  return edited;
}

describe('schema drift', () => {
  it('replaying prisma/migrations in a shadow database yields exactly schema.prisma', async () => {
    // An empty diff is '' (the engine's exit code says "no changes"); anything else is the missing migration's SQL.
    expect(await diffMigrationsToSchema(MIGRATIONS_DIR, SCHEMA, { databaseUrl: TEST_DATABASE_ADMIN_URL })).toBe('');
  });

  it('would catch a schema.prisma change that has no migration', async () => {
    const sql = await diffMigrationsToSchema(MIGRATIONS_DIR, schemaWithUnmigratedChange(), { databaseUrl: TEST_DATABASE_ADMIN_URL });
    expect(sql).toContain('ALTER TABLE "audit_checkpoint_publication" ADD COLUMN');
    expect(sql).toContain('"note" TEXT');
  });

  describe('a database migrated by our runner', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(async () => {
      await db?.drop();
    });

    it('matches schema.prisma (the runner applies the same SQL Prisma would)', async () => {
      expect(await diffDatabaseToSchema(db.url, SCHEMA)).toBe('');
    });

    it('and is told apart from a schema with an unmigrated change', async () => {
      expect(await diffDatabaseToSchema(db.url, schemaWithUnmigratedChange())).toContain('ALTER TABLE "audit_checkpoint_publication" ADD COLUMN');
    });
  });

  it('diffSchemas returns "" for identical schemas and the CREATE script from an empty database', async () => {
    expect(await diffSchemas(SCHEMA, SCHEMA, { databaseUrl: TEST_DATABASE_ADMIN_URL })).toBe('');
    const fromEmpty = await diffSchemas(null, SCHEMA, { databaseUrl: TEST_DATABASE_ADMIN_URL });
    expect(fromEmpty).toContain('CREATE TABLE "audit_event"');
    expect(fromEmpty).toContain('CREATE TABLE "approval_request"');
  });
});
