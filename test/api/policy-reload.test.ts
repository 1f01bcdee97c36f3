/**
 * Live policy reload: the file changing (watched) and SIGHUP (the real service in a child process) put a valid file in
 * force (stored, `policy.in_force`), refuse a bad one with every problem (`policy.reload_refused`, the old policy kept),
 * and never move a pending request: it keeps the rule and approvers it was matched with. GET /v1/policy shows the
 * version in force.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { baseRequest, deleteRedisKeys, KEYS, startTestApp, TEST_POLICY, type TestApp } from '../support/start-app';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { POLICY_WATCH_INTERVAL_MS: '50' } });
});
afterAll(async () => {
  await t?.close();
});

const vote = (id: string, email: string) => t.call('POST', `/v1/requests/${id}/decisions`, { key: t.keys.approver, body: { approver: { email }, decision: 'approve' } });
/** Events of a type, newest first (the trail lists oldest first). */
const auditOf = async (type: string) => ((await t.call('GET', `/v1/audit?type=${type}&limit=200`)).body.items as { data: Record<string, any> }[]).reverse();
const requestPolicyHash = async (id: string) => (await t.db.approvalRequest.findUnique({ where: { id } }))?.policyHash;
const policyHash = async () => (await t.call('GET', '/v1/policy', { key: t.keys.reader })).body.hash as string;

/** The export rule needing one security approver instead of two of `approvers`. */
const CHANGED = TEST_POLICY.replace(
  '  - name: two-person-export\n    match: { action: dataset.export }\n    outcome: require\n    approvers: [approvers]\n    approvals: 2',
  '  - name: two-person-export\n    match: { action: dataset.export }\n    outcome: require\n    approvers: [security]\n    approvals: 1',
);

describe('GET /v1/policy', () => {
  it('shows the version in force, its groups and rules, to read and audit keys', async () => {
    const res = await t.call('GET', '/v1/policy', { key: t.keys.reader });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ hash: sha256(TEST_POLICY), source: 'start', file: t.config.POLICY_FILE, missingRisk: 'critical' });
    expect(Date.parse(res.body.activatedAt)).not.toBeNaN();
    expect(res.body.groups.security).toEqual(['dave@example.com']);
    expect(res.body.rules.map((r: { name: string }) => r.name)).toEqual(['routine-reads', 'no-deletes', 'two-person-export', 'always-reason', 'default']);
    expect(res.body.rules[2]).toMatchObject({ outcome: 'require', approvers: ['approvers'], approvals: 2, channels: ['slack:C0000DATA'] });
    expect((await t.call('GET', '/v1/policy', { key: t.keys.admin })).status).toBe(200);
    expect((await t.call('GET', '/v1/policy', { key: '' })).status).toBe(401);
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = (await t.call('GET', '/openapi.json', { key: '' })).body;
    expect(doc.paths['/v1/policy'].get).toBeDefined();
    expect(doc.components.schemas.PolicyInForce.required).toEqual(expect.arrayContaining(['hash', 'activatedAt', 'source', 'groups', 'rules']));
  });
});

describe('reload on change', () => {
  it('puts a changed file in force, while a pending request keeps the rule and approvers it was matched with', async () => {
    const before = await t.submit(baseRequest());
    expect(before.body).toMatchObject({ status: 'pending', rule: 'two-person-export' });

    writeFileSync(t.config.POLICY_FILE, CHANGED);
    await t.waitFor(async () => (await policyHash()) === sha256(CHANGED), 10_000, 'the changed policy in force');
    const shown = (await t.call('GET', '/v1/policy', { key: t.keys.reader })).body;
    expect(shown).toMatchObject({ source: 'reload' });
    expect(shown.rules[2]).toMatchObject({ approvers: ['security'], approvals: 1 });

    const inForce = await auditOf('policy.in_force');
    expect(inForce[0].data).toMatchObject({ hash: sha256(CHANGED), previousHash: sha256(TEST_POLICY), source: 'reload', file: t.config.POLICY_FILE });
    const stored = await t.db.policyVersion.findUnique({ where: { hash: sha256(CHANGED) } });
    expect(stored?.text).toBe(CHANGED);

    // The request pending under the old rule: the new approver group cannot decide it, and it still needs two.
    const dave = await vote(before.body.id, 'dave@example.com');
    expect(dave.status).toBe(403);
    expect(dave.body.error.code).toBe('not_eligible');
    const alice = await vote(before.body.id, 'alice@example.com');
    expect(alice.body).toMatchObject({ status: 'pending', approvals: 1, approvalsRequired: 2 });
    const bob = await vote(before.body.id, 'bob@example.com');
    expect(bob.body).toMatchObject({ status: 'approved', approvals: 2 });

    // A request submitted now meets the new rule.
    const after = await t.submit(baseRequest());
    expect(after.body).toMatchObject({ status: 'pending', rule: 'two-person-export' });
    expect(await requestPolicyHash(after.body.id)).toBe(sha256(CHANGED));
    const daveNow = await vote(after.body.id, 'dave@example.com');
    expect(daveNow.body).toMatchObject({ status: 'approved', approvals: 1 });
  });

  it('refuses a bad file with every problem, once, and keeps the policy in force', async () => {
    const inForce = await policyHash();
    const bad = CHANGED.replace('approvers: [security]\n    approvals: 1', 'approvers: [nobody]\n    approvals: 1\n    colour: blue');
    writeFileSync(t.config.POLICY_FILE, bad);
    const refused = await t.waitFor(async () => (await auditOf('policy.reload_refused'))[0], 10_000, 'policy.reload_refused');
    expect(refused.data).toMatchObject({ source: 'reload', hash: sha256(bad), keptHash: inForce, file: t.config.POLICY_FILE });
    expect(refused.data.problems).toEqual(expect.arrayContaining([expect.stringMatching(/Unrecognized key: "colour"/), expect.stringMatching(/unknown approver group "nobody"/)]));
    // Several more polls see the same bad file: nothing new is recorded, nothing changes.
    writeFileSync(t.config.POLICY_FILE, `${bad}\n`);
    await t.waitFor(async () => (await auditOf('policy.reload_refused')).length === 2, 10_000, 'the edited bad file refused');
    await new Promise((r) => setTimeout(r, 300));
    expect(await auditOf('policy.reload_refused')).toHaveLength(2);
    expect(await policyHash()).toBe(inForce);
    const still = await t.submit(baseRequest());
    expect(await requestPolicyHash(still.body.id)).toBe(inForce);

    // Fixed again: back in force.
    writeFileSync(t.config.POLICY_FILE, TEST_POLICY);
    await t.waitFor(async () => (await policyHash()) === sha256(TEST_POLICY), 10_000, 'the fixed policy in force');
  });

  it('refuses a file that cannot be read', async () => {
    const result = await t.app.reloadPolicy('sighup');
    expect(result.status).toBe('unchanged');
    const missing = await (async () => {
      const { renameSync } = await import('node:fs');
      renameSync(t.config.POLICY_FILE, `${t.config.POLICY_FILE}.moved`);
      try {
        return await t.app.reloadPolicy('sighup');
      } finally {
        renameSync(`${t.config.POLICY_FILE}.moved`, t.config.POLICY_FILE);
      }
    })();
    expect(missing).toMatchObject({ status: 'refused', hash: null });
    expect(missing.status === 'refused' && missing.problems[0]).toMatch(/cannot read/);
    expect(await policyHash()).toBe(sha256(TEST_POLICY));
  });
});

describe('reload on SIGHUP', () => {
  it('the running service re-reads its policy file on SIGHUP', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-sighup-'));
    const file = path.join(dir, 'policy.yaml');
    writeFileSync(file, TEST_POLICY);
    const prefix = `cs-test-hup-${process.pid}`;
    const root = path.resolve(__dirname, '../..');
    const child = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(root, 'src/main.ts')], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        DATABASE_URL: t.database.appUrl,
        REDIS_URL: t.config.REDIS_URL,
        REDIS_PREFIX: prefix,
        POLICY_FILE: file,
        POLICY_WATCH_INTERVAL_MS: '0',
        DATA_DIR: path.join(dir, 'data'),
        API_KEYS: `reader:${KEYS.reader}:read`,
      },
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const address = await t.waitFor(async () => /"address":"(http:\/\/[^"]+)"/.exec(out)?.[1], 30_000, 'the service listening');
      const get = async () => (await (await fetch(`${address}/v1/policy`, { headers: { authorization: `Bearer ${KEYS.reader}` } })).json()) as { hash: string; source: string };
      expect((await get()).hash).toBe(sha256(TEST_POLICY));

      writeFileSync(file, CHANGED);
      // Not watched (interval 0): nothing happens until the signal.
      await new Promise((r) => setTimeout(r, 300));
      expect((await get()).hash).toBe(sha256(TEST_POLICY));
      child.kill('SIGHUP');
      const now = await t.waitFor(async () => {
        const p = await get();
        return p.hash === sha256(CHANGED) && p;
      }, 10_000, 'the policy reloaded on SIGHUP');
      expect(now.source).toBe('sighup');
      expect(out).toMatch(/policy reloaded and in force/);

      writeFileSync(file, 'version: 1\ngroups: {}\n');
      child.kill('SIGHUP');
      await t.waitFor(async () => /policy reload refused/.test(out), 10_000, 'the refusal logged');
      expect((await get()).hash).toBe(sha256(CHANGED));
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
      await exited;
      await deleteRedisKeys(t.config.REDIS_URL, prefix);
    }
    expect(readFileSync(file, 'utf8')).toContain('version: 1');
  }, 60_000);
});
