/** The standard-library Python client (clients/python): its unittest suite, run with python3 against the real service. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { KEYS, startTestApp, type TestApp } from '../support/start-app';

const run = promisify(execFile);
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

test('python3 -m unittest passes against the running service', async () => {
  const { stderr } = await run('python3', ['-m', 'unittest', 'discover', '-v', '-s', 'tests'], {
    cwd: path.resolve(__dirname, '../../clients/python'),
    env: { PATH: process.env.PATH ?? '', COUNTERSIGN_URL: t.baseUrl, COUNTERSIGN_API_KEY: KEYS.agent, COUNTERSIGN_TEST_APPROVER_KEY: KEYS.approver, PYTHONDONTWRITEBYTECODE: '1' },
  }).catch((err) => {
    throw new Error(`python3 -m unittest failed:\n${err.stderr ?? err}`);
  });
  // unittest reports on stderr; every test ran (none skipped for want of a service).
  expect(stderr).toMatch(/Ran 6 tests/);
  expect(stderr).toMatch(/\nOK\n?$/);
}, 90_000);
