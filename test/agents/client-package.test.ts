/**
 * The TypeScript client as a package: its committed wire types match the service's OpenAPI document, and `npm pack`
 * of clients/typescript installs into an empty folder (its own dependencies from the registry, nothing of the
 * server's), imports from ESM and CommonJS, type-checks, and talks to the real service.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KEYS, startTestApp, type TestApp } from '../support/start-app';

const run = promisify(execFile);
const CLIENT_DIR = path.resolve(__dirname, '../../clients/typescript');
const TSC = path.resolve(__dirname, '../../node_modules/typescript/bin/tsc');

let t: TestApp;
let dir: string;

beforeAll(async () => {
  t = await startTestApp();
  dir = mkdtempSync(path.join(tmpdir(), 'cs-client-pack-'));
});
afterAll(async () => {
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the committed client types are what the OpenAPI document generates (npm run client:types)', async () => {
  // In a child process: the generator formats with prettier, which Jest's CommonJS runtime cannot load.
  const checked = await run(path.resolve(__dirname, '../../node_modules/.bin/tsx'), ['scripts/generate-client-types.ts', `${t.baseUrl}/openapi.json`, '--check'], { cwd: path.resolve(__dirname, '../..') });
  expect(checked.stdout).toContain('is up to date');
});

test('npm pack installs into an empty folder without the server and works there', async () => {
  const packDir = path.join(dir, 'pack');
  const appDir = path.join(dir, 'app');
  for (const d of [packDir, appDir]) require('node:fs').mkdirSync(d);
  // prepack builds dist/ with the repository's TypeScript.
  const packed = await run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: CLIENT_DIR });
  const [{ filename, files }] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
  expect(files.map((f) => f.path)).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'package.json']));
  expect(files.some((f) => f.path.startsWith('src/'))).toBe(false);

  writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ name: 'probe', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', path.join(packDir, filename)], { cwd: appDir });
  // Only the client and its own dependency: none of the server's (fastify, prisma, zod, …).
  expect(readdirSync(path.join(appDir, 'node_modules')).filter((n) => !n.startsWith('.')).sort()).toEqual(['@countersign', 'jose']);

  writeFileSync(
    path.join(appDir, 'probe.ts'),
    `import { CountersignClient, CountersignError, type Approval } from '@countersign/client';
const cs = CountersignClient.fromEnv();
const a: Approval = await cs.requestApproval({ action: 'table.read', resource: 'warehouse://dev/t', environment: 'dev', requester: { id: 'probe', type: 'agent' } });
console.log(JSON.stringify({ status: a.status, approved: a.approved, error: new CountersignError(429, 'rate_limited', 'x').code }));
`,
  );
  await run(process.execPath, [TSC, '--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--lib', 'es2023,dom', 'probe.ts'], { cwd: appDir });
  writeFileSync(path.join(appDir, 'probe.mjs'), readFileSync(path.join(appDir, 'probe.ts'), 'utf8').replace(', type Approval', '').replace(': Approval', ''));
  const env = { ...process.env, COUNTERSIGN_URL: t.baseUrl, COUNTERSIGN_API_KEY: KEYS.agent };
  const esm = await run(process.execPath, ['probe.mjs'], { cwd: appDir, env });
  expect(JSON.parse(esm.stdout)).toEqual({ status: 'approved', approved: true, error: 'rate_limited' });
  const cjs = await run(process.execPath, ['-e', "const { CountersignClient } = require('@countersign/client'); console.log(typeof CountersignClient)"], { cwd: appDir });
  expect(cjs.stdout.trim()).toBe('function');
}, 120_000);
