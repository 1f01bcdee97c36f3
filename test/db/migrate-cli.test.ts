/** `npm run db:migrate` reads `.env` like the service, so a newcomer's service never starts on a database it did not migrate. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const ROOT = path.resolve(__dirname, '../..');
let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  dir = mkdtempSync(path.join(tmpdir(), 'cs-dotenv-'));
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

it('migrates the database named in .env of the working directory', async () => {
  writeFileSync(path.join(dir, '.env'), `# as a newcomer writes it\nDATABASE_URL=${db.url}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && k !== 'MIGRATION_DATABASE_URL'));
  const out = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'src/cli/migrate-cli.ts')], { cwd: dir, env }, (err, stdout) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
  expect(out.stdout).toContain('database is up to date');
  expect(out.code).toBe(0);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL');
    const shipped = readdirSync(path.join(ROOT, 'prisma/migrations'), { withFileTypes: true }).filter((e) => e.isDirectory()).length;
    expect(rows[0].n).toBe(shipped);
  } finally {
    await client.end();
  }
}, 60_000);
