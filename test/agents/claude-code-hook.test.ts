/**
 * `countersign-hook claude-code` fed Claude Code's documented PreToolUse input shapes on stdin, against the real
 * service: allow and deny with who and why, the fallback on timeout (never allow), MCP tools named like the proxy's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestApp, KEYS, type TestApp } from '../support/start-app';
import { newestRequest, ROOT, vote } from './mcp-support';

const POLICY = `
version: 1
groups:
  approvers: [alice@example.com, bob@example.com]
rules:
  - name: reads
    match: { action: "claude-code.Read" }
    outcome: approve
  - name: no-repo-deletes
    match: { action: "mcp.github.delete_repo" }
    outcome: deny
    message: Repositories are never deleted by agents.
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
`;

let t: TestApp;
let stateDir: string;

beforeAll(async () => {
  t = await startTestApp({ policyYaml: POLICY });
  stateDir = mkdtempSync(path.join(tmpdir(), 'cs-hook-'));
});
afterAll(async () => t?.close());

/** Runs the hook as Claude Code does: JSON on stdin, decision on stdout. */
function runHook(input: unknown, args: string[] = [], env: Record<string, string> = {}): Promise<{ code: number | null; out: any; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/countersign-hook.js'), 'claude-code', ...args], {
      env: { PATH: process.env.PATH ?? '', COUNTERSIGN_URL: t.baseUrl, COUNTERSIGN_API_KEY: KEYS.agent, COUNTERSIGN_REQUESTER_ID: 'claude-code-dev', COUNTERSIGN_HOOK_STATE_DIR: stateDir, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: stdout ? JSON.parse(stdout) : undefined, stderr }));
    child.stdin.end(typeof input === 'string' ? input : JSON.stringify(input));
  });
}

let n = 0;
function preToolUse(tool_name: string, tool_input: Record<string, unknown>) {
  n++;
  return {
    session_id: 'sess-4f2a',
    transcript_path: '/home/dev/.claude/projects/app/sess-4f2a.jsonl',
    cwd: '/home/dev/app',
    permission_mode: 'default',
    hook_event_name: 'PreToolUse',
    tool_name,
    tool_input,
    tool_use_id: `toolu_${n}`,
  };
}

const decisionOf = (r: { out: any }) => r.out.hookSpecificOutput;

test('a routine tool call is allowed at once by policy', async () => {
  const r = await runHook(preToolUse('Read', { file_path: '/home/dev/app/README.md' }));
  expect(r.code).toBe(0);
  expect(decisionOf(r)).toEqual({ hookEventName: 'PreToolUse', permissionDecision: 'allow', permissionDecisionReason: expect.stringMatching(/^Countersign: approved by policy \(request [0-9a-f-]+\)$/) });
  const request = await newestRequest(t, 'claude-code.Read', 'approved');
  expect(request).toMatchObject({ resource: 'file:///home/dev/app/README.md', requester: { id: 'claude-code-dev' }, context: { file_path: '/home/dev/app/README.md', cwd: '/home/dev/app', claude_session: { sha256: expect.any(String) } } });
});

test('a sensitive call waits for an approver: allowed with who approved, denied with who and why', async () => {
  const push = runHook(preToolUse('Bash', { command: 'git push --force origin main', description: 'Force-push the rebased branch' }));
  const pending = await newestRequest(t, 'claude-code.Bash');
  expect(pending).toMatchObject({ resource: 'workspace:///home/dev/app', justification: 'Claude Code wants to use Bash: Force-push the rebased branch', context: { command: 'git push --force origin main' } });
  await vote(t, pending.id, 'alice@example.com', 'approve');
  expect(decisionOf(await push)).toMatchObject({ permissionDecision: 'allow', permissionDecisionReason: `Countersign: approved by alice@example.com (request ${pending.id})` });

  const drop = runHook(preToolUse('Bash', { command: 'psql -c "drop table orders"' }));
  const second = await newestRequest(t, 'claude-code.Bash');
  await vote(t, second.id, 'bob@example.com', 'deny', 'use a migration');
  expect(decisionOf(await drop)).toMatchObject({ permissionDecision: 'deny', permissionDecisionReason: `Countersign: denied by bob@example.com: use a migration (request ${second.id})` });
});

test('MCP tools are named like the proxy names them, so one rule covers both', async () => {
  const r = await runHook(preToolUse('mcp__github__delete_repo', { owner: 'acme', repo: 'payments' }));
  expect(decisionOf(r)).toMatchObject({ permissionDecision: 'deny', permissionDecisionReason: expect.stringContaining('denied by policy: Repositories are never deleted by agents.') });
  expect(await newestRequest(t, 'mcp.github.delete_repo', 'denied')).toMatchObject({ resource: 'mcp://github/delete_repo', context: { owner: 'acme', repo: 'payments' } });
});

test('no decision within the timeout answers the fallback, never allow; the same call later joins the same request', async () => {
  const call = preToolUse('Write', { file_path: '/home/dev/app/.env', content: 'API_KEY=x' });
  const denied = await runHook(call, ['--timeout', '7']);
  expect(decisionOf(denied)).toMatchObject({ permissionDecision: 'deny', permissionDecisionReason: expect.stringMatching(/^Countersign: no decision within 2 s; request .+ is still pending/) });
  const asked = await runHook({ ...call, tool_use_id: 'toolu_retry' }, ['--timeout', '6', '--on-timeout', 'ask']);
  expect(decisionOf(asked).permissionDecision).toBe('ask');
  // Both answers refer to the one pending request; approving it lets the call through on the next try.
  const pending = await newestRequest(t, 'claude-code.Write');
  expect(decisionOf(asked).permissionDecisionReason).toContain(pending.id);
  await vote(t, pending.id, 'alice@example.com', 'approve');
  expect(decisionOf(await runHook({ ...call, tool_use_id: 'toolu_again' }, ['--timeout', '7']))).toMatchObject({ permissionDecision: 'allow' });
  // That approval was spent: the same call asks again.
  const fresh = runHook({ ...call, tool_use_id: 'toolu_later' }, ['--timeout', '6']);
  const again = decisionOf(await fresh);
  expect(again).toMatchObject({ permissionDecision: 'deny', permissionDecisionReason: expect.stringContaining('no decision within 1 s') });
  expect(again.permissionDecisionReason).not.toContain(pending.id);
});

test('when Countersign cannot be asked the call is not allowed; unreadable input blocks', async () => {
  const down = await runHook(preToolUse('Bash', { command: 'ls' }), ['--on-timeout', 'ask'], { COUNTERSIGN_URL: 'http://127.0.0.1:9' });
  expect(decisionOf(down)).toMatchObject({ permissionDecision: 'ask', permissionDecisionReason: expect.stringContaining('Countersign could not be asked') });
  const badKey = await runHook(preToolUse('Bash', { command: 'ls' }), [], { COUNTERSIGN_API_KEY: 'nope' });
  expect(decisionOf(badKey)).toMatchObject({ permissionDecision: 'deny', permissionDecisionReason: expect.stringContaining('unauthorized') });
  const garbage = await runHook('not json');
  expect(garbage.code).toBe(2);
  expect(garbage.stderr).toContain('not JSON');
  expect((await runHook(preToolUse('Bash', {}), ['--on-timeout', 'allow'])).code).toBe(2);
});
