/**
 * `npm run cli -- policy check|test|replay`, run as the real CLI in a child process (what CI in a user's repository
 * runs): exit codes and every printed problem, the shipped example cases against the shipped example policy, and a
 * replay of a draft against requests recorded through the HTTP API in PostgreSQL.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { baseRequest, startTestApp, TEST_POLICY, type TestApp } from '../support/start-app';

const ROOT = path.resolve(__dirname, '../..');
// Resolved here: the child runs in a scratch directory (so no .env of the checkout leaks into it).
const TSX = pathToFileURL(require.resolve('tsx')).href;
const dir = mkdtempSync(path.join(tmpdir(), 'cs-policy-cli-'));

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, 'src/cli/cli.ts'), ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('policy check', () => {
  it('accepts the example policy', async () => {
    const r = await cli(['policy', 'check', path.join(ROOT, 'policy.example.yaml')]);
    expect(r.out).toMatch(/policy\.example\.yaml: valid \(\d+ rules including the default/);
    expect(r.code).toBe(0);
  });

  it('lists every problem at once, structural and semantic, and exits 1', async () => {
    const f = file(
      'bad.yaml',
      `version: 1
groups:
  ops: [alice@example.com, bob@example.com]
rules:
  - name: everything
    outcome: approve
  - name: everything
    match: { action: x }
    outcome: require
    approvers: [nobody]
  - name: big-quorum
    match: { action: y, colour: blue }
    outcome: require
    approvers: [ops]
    approvals: 3
default:
  outcome: deny
`,
    );
    const r = await cli(['policy', 'check', f]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('rules.2.match: Unrecognized key: "colour"');
    expect(r.out).toContain('duplicate rule name "everything"');
    expect(r.out).toContain('unknown approver group "nobody"');
    expect(r.out).toMatch(/rules\.1: unreachable: rule "everything"/);
    expect(r.out).toMatch(/rules\.2: unreachable/);
    expect(r.out).toMatch(/needs 3 approvals but ops has only 2 people/);
    expect(r.out).toMatch(/bad\.yaml: 6 problems/);
  });

  it('says what is wrong with a file that is not YAML or not there', async () => {
    const r = await cli(['policy', 'check', file('broken.yaml', 'rules: [\n')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/not valid YAML\/JSON/);
    const missing = await cli(['policy', 'check', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/cannot read/);
  });

  it('answers a wrong command with the usage and exit 64', async () => {
    const r = await cli(['policy', 'lint', 'x.yaml']);
    expect(r.code).toBe(64);
    expect(r.out).toContain('policy test <policy file> <cases.yaml>');
  });
});

describe('policy test', () => {
  it('passes the shipped example cases against the shipped example policy', async () => {
    const r = await cli(['policy', 'test', path.join(ROOT, 'policy.example.yaml'), path.join(ROOT, 'policy.cases.example.yaml')]);
    expect(r.out).toMatch(/^PASS {2}exporting production data needs security and a data owner/m);
    expect(r.out).not.toMatch(/^FAIL/m);
    expect(r.out).toMatch(/7 passed, 0 failed/);
    expect(r.code).toBe(0);
  });

  it('prints a FAIL line naming each mismatch and exits 1', async () => {
    const cases = file(
      'cases.yaml',
      `cases:
  - name: export needs three
    request: { action: dataset.export, resource: warehouse://prod/x, environment: production, requester: { id: a, type: agent } }
    expect: { outcome: require, rule: prod-data-export, approvers: [security], approvals: 3 }
  - name: staging read is routine
    request: { action: dataset.read, resource: warehouse://staging/x, environment: staging, requester: { id: a } }
    expect: { outcome: approve }
  - name: audit deletes are approved (wrong)
    request: { action: audit.delete, resource: audit://x, requester: { id: a } }
    expect: { outcome: approve, rule: routine-non-prod-reads }
`,
    );
    const r = await cli(['policy', 'test', path.join(ROOT, 'policy.example.yaml'), cases]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^FAIL {2}export needs three\n {6}approvers: expected \[security\], got \[security, data-owners\]\n {6}approvals: expected 3, got 2$/m);
    expect(r.out).toMatch(/^PASS {2}staging read is routine/m);
    expect(r.out).toMatch(/^FAIL {2}audit deletes are approved \(wrong\)\n {6}outcome: expected approve, got deny\n {6}rule: expected "routine-non-prod-reads", got "never-delete-audit"$/m);
    expect(r.out).toMatch(/1 passed, 2 failed/);
  });

  it('checks per-group quorums', async () => {
    const policy = file(
      'groups.yaml',
      `version: 1
groups:
  security: [dave@example.com, erin@example.com]
  data-owners: [alice@example.com, bob@example.com]
rules:
  - name: both
    match: { action: dataset.export }
    outcome: require
    approvals: { security: 1, data-owners: 1 }
default:
  outcome: deny
`,
    );
    const cases = file(
      'groups.cases.yaml',
      `cases:
  - name: one of each
    request: { action: dataset.export, resource: r, requester: { id: a } }
    expect: { outcome: require, approvers: [data-owners, security], approvals: { security: 1, data-owners: 1 } }
  - name: two security (wrong)
    request: { action: dataset.export, resource: r, requester: { id: a } }
    expect: { outcome: require, approvals: { security: 2 } }
`,
    );
    const r = await cli(['policy', 'test', policy, cases]);
    expect(r.out).toMatch(/^PASS {2}one of each/m);
    expect(r.out).toMatch(/^FAIL {2}two security \(wrong\)\n {6}approvals: expected \{"security":2\}, got \{"security":1,"data-owners":1\}$/m);
    expect(r.code).toBe(1);
  });

  it('refuses a malformed cases file with every problem and exit 1', async () => {
    const cases = file('bad.cases.yaml', `cases:\n  - name: x\n    request: { action: a }\n    expect: { outcome: maybe }\n`);
    const r = await cli(['policy', 'test', path.join(ROOT, 'policy.example.yaml'), cases]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/cases\.0\.request\.resource/);
    expect(r.out).toMatch(/cases\.0\.expect\.outcome/);
  });

  it('refuses to test an invalid policy', async () => {
    const r = await cli(['policy', 'test', file('inv.yaml', 'version: 2\n'), path.join(ROOT, 'policy.cases.example.yaml')]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/version/);
    expect(r.out).not.toMatch(/PASS|FAIL/);
  });
});

describe('policy replay', () => {
  let t: TestApp;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestApp();
    // Recorded under TEST_POLICY: a routine read, a denied delete, a two-person export, an IAM change (1 of security/approvers).
    const submit = async (name: string, body: Record<string, unknown>) => {
      const res = await t.submit(baseRequest(body));
      expect(res.status).toBeLessThan(300);
      ids[name] = res.body.id;
    };
    await submit('read', { action: 'dataset.read', environment: 'staging', risk: 'low' });
    await submit('delete', { action: 'dataset.delete' });
    await submit('export', { action: 'dataset.export' });
    await submit('iam', { action: 'iam.grant', resource: 'role\u001b[2J/admin' });
    await submit('other', { action: 'ticket.comment' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('prints what a draft would change against the recorded requests, with counts', async () => {
    const draft = file(
      'draft.yaml',
      TEST_POLICY.replace('approvals: 2\n    channels: ["slack:C0000DATA"]', 'approvals: 3\n    channels: ["slack:C0000DATA"]')
        .replace('match: { action: "*.delete" }\n    outcome: deny\n    message: Deletes are never allowed for agents.', 'match: { action: "*.delete" }\n    outcome: approve')
        .replace('match: { action: "*.read", environment: [dev, staging] }\n    outcome: approve', 'match: { action: "*.read", environment: [dev, staging] }\n    outcome: deny'),
    );
    const r = await cli(['policy', 'replay', draft, '--since', '1h'], { DATABASE_URL: t.database.appUrl });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/against 5 requests created/);
    expect(r.out).toMatch(/3 would change, 2 unchanged/);
    expect(r.out).toMatch(/^ {2}now approved: 1$/m);
    expect(r.out).toMatch(/^ {2}now denied: 1$/m);
    expect(r.out).toMatch(/^ {2}needs more approvals: 1$/m);
    expect(r.out).toContain(`${ids.delete}`);
    expect(r.out).toMatch(new RegExp(`${ids.export}.*\\n\\s+was require "two-person-export" \\(2 of approvers\\), ended pending; now require "two-person-export" \\(3 of approvers\\)`));
    expect(r.out).toMatch(new RegExp(`${ids.read}.*\\n\\s+was approve "routine-reads", ended approved \\(policy\\); now deny "routine-reads"`));
    expect(r.out).not.toContain(ids.other);
    expect(r.out).not.toContain(ids.iam);
  });

  it('names other approvers, says budgets are not simulated, and escapes agent text', async () => {
    const draft = file(
      'draft2.yaml',
      TEST_POLICY.replace('approvers: [security, approvers]\n    approvals: 1', 'approvers: [security]\n    approvals: 1').replace(
        'match: { action: "*.read", environment: [dev, staging] }\n    outcome: approve',
        'match: { action: "*.read", environment: [dev, staging] }\n    outcome: approve\n    budget: { count: 10, per: 1h, then: two-person-export }',
      ),
    );
    const r = await cli(['policy', 'replay', draft, '--since', '1h'], { DATABASE_URL: t.database.appUrl });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/1 would change, 4 unchanged/);
    expect(r.out).toMatch(/^ {2}other approvers: 1$/m);
    expect(r.out).toMatch(/Budgets are not simulated: 1 request matched a rule with a budget/);
    expect(r.out).toContain('role\\u001b[2J/admin');
    expect(r.out).not.toContain('\u001b');
  });

  it('replays a request recorded past its budget with the draft budget\'s then', async () => {
    const budgeted = (then: string) =>
      TEST_POLICY.replace(
        'match: { action: "*.read", environment: [dev, staging] }\n    outcome: approve',
        `match: { action: "*.read", environment: [dev, staging] }\n    outcome: approve\n    budget: { count: 1, per: 30d, then: ${then} }`,
      );
    writeFileSync(t.config.POLICY_FILE, budgeted('two-person-export'));
    expect((await t.app.reloadPolicy('reload')).status).toBe('activated');
    const within = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', requester: { id: 'budget-agent', type: 'agent' } }));
    const past = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', requester: { id: 'budget-agent', type: 'agent' } }));
    expect(within.body.status).toBe('approved');
    expect(past.body).toMatchObject({ status: 'pending', budgetExhausted: true });
    const r = await cli(['policy', 'replay', file('draft3.yaml', budgeted('always-reason')), '--since', '1h'], { DATABASE_URL: t.database.appUrl });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`${past.body.id}.*\\n\\s+was require "routine-reads" \\(2 of approvers\\), ended pending; now require "routine-reads" \\(1 of security/approvers\\)`));
    expect(r.out).not.toContain(within.body.id);
    // The beforeAll's staging read matches the budgeted rule too.
    expect(r.out).toMatch(/3 requests matched a rule with a budget; those recorded past a budget follow the draft's `then`/);
  });

  it('examines nothing outside the window', async () => {
    const r = await cli(['policy', 'replay', path.join(ROOT, 'policy.example.yaml'), '--since', '2d', '--until', new Date(Date.now() - 3_600_000).toISOString()], { DATABASE_URL: t.database.appUrl });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/against 0 requests/);
  });

  it('needs --since', async () => {
    const r = await cli(['policy', 'replay', path.join(ROOT, 'policy.example.yaml')], { DATABASE_URL: t.database.appUrl });
    expect(r.code).toBe(64);
    expect(r.out).toMatch(/--since/);
  });
});
