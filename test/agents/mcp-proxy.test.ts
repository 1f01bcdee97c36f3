/**
 * `countersign-mcp proxy -- <upstream>` with a real upstream MCP server started by the test: the upstream's tools
 * exposed unchanged, routine calls passed at once, sensitive ones held until an approver decides, denied ones never
 * reaching the upstream and answered with who denied and why.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { KEYS, startTestApp, type TestApp } from '../support/start-app';
import { connectBin, newestRequest, textOf, TSX, vote } from './mcp-support';

const POLICY = `
version: 1
groups:
  approvers: [alice@example.com, bob@example.com]
rules:
  - name: notes-reads
    match: { action: "mcp.notes.read_note" }
    outcome: approve
  - name: never-wipe
    match: { action: "mcp.notes.wipe" }
    outcome: deny
    message: Wiping the notes store is never allowed.
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
`;
const UPSTREAM = path.join(__dirname, 'fixtures/notes-mcp-server.ts');

let t: TestApp;
let proxied: Client;
let direct: Client;
let callLog: string;

const upstreamCalls = () => (existsSync(callLog) ? readFileSync(callLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).tool) : []);

beforeAll(async () => {
  t = await startTestApp({ policyYaml: POLICY });
  callLog = path.join(mkdtempSync(path.join(tmpdir(), 'cs-proxy-')), 'calls.ndjson');
  proxied = await connectBin(t, ['proxy', '--', TSX, UPSTREAM], { NOTES_CALL_LOG: callLog, COUNTERSIGN_REQUESTER_ID: 'notes-agent', COUNTERSIGN_ON_BEHALF_OF: 'frank@example.com' });
  direct = new Client({ name: 'direct', version: '1.0.0' });
  await direct.connect(new StdioClientTransport({ command: TSX, args: [UPSTREAM], stderr: 'pipe' }));
}, 60_000);
afterAll(async () => {
  await proxied?.close();
  await direct?.close();
  await t?.close();
});

test("the upstream's tools and identity are exposed unchanged", async () => {
  expect(await proxied.listTools()).toEqual(await direct.listTools());
  expect(proxied.getServerVersion()).toMatchObject({ name: 'notes', version: '2.1.0' });
  expect(proxied.getInstructions()).toBe('A tiny notes store.');
});

test('a routine call passes at once by policy, with the upstream answer as it is', async () => {
  const result = await proxied.callTool({ name: 'read_note', arguments: { title: 'welcome' } });
  expect(result).toEqual(await direct.callTool({ name: 'read_note', arguments: { title: 'welcome' } }));
  const request = await newestRequest(t, 'mcp.notes.read_note', 'approved');
  expect(request).toMatchObject({ resource: 'mcp://notes/read_note', requester: { id: 'notes-agent', type: 'agent' }, policy: { rule: 'notes-reads' } });
  expect(request.context).toMatchObject({ title: 'welcome', mcp_server: 'notes', mcp_tool: 'read_note' });
  await t.waitFor(async () => (await t.call('GET', `/v1/requests/${request.id}`, { key: KEYS.agent })).body.outcomeReport?.status === 'succeeded', 5_000, 'the outcome');
});

test('a sensitive call waits for the approvers, then runs; its secret argument is hashed in the request', async () => {
  const before = upstreamCalls().length;
  const call = proxied.callTool({ name: 'publish', arguments: { title: 'launch', body: 'We ship Monday', api_token: 'tok-123', tags: ['news'] } });
  const pending = await newestRequest(t, 'mcp.notes.publish');
  expect(pending.context).toMatchObject({ title: 'launch', body: 'We ship Monday', tags: '["news"]', api_token: { sha256: expect.any(String) } });
  expect(pending.onBehalfOf).toMatchObject({ email: 'frank@example.com' });
  expect(upstreamCalls().length).toBe(before);
  await vote(t, pending.id, 'alice@example.com', 'approve');
  const result = await call;
  expect(result).toEqual({ content: [{ type: 'text', text: 'published launch' }], structuredContent: { url: 'https://notes.example/launch' } });
  expect(upstreamCalls().slice(before)).toEqual(['publish']);
});

test('a denied call never reaches the upstream and says who denied and why', async () => {
  const before = upstreamCalls().length;
  const call = proxied.callTool({ name: 'publish', arguments: { title: 'leak', body: 'internal numbers' } });
  const pending = await newestRequest(t, 'mcp.notes.publish');
  await vote(t, pending.id, 'bob@example.com', 'deny', 'internal figures stay internal');
  const result = await call;
  expect(result.isError).toBe(true);
  expect(textOf(result)).toBe(`Not run: Countersign denied by bob@example.com: internal figures stay internal (request ${pending.id}).`);

  const wipe = await proxied.callTool({ name: 'wipe', arguments: {} });
  expect(wipe.isError).toBe(true);
  expect(textOf(wipe)).toContain('denied by policy: Wiping the notes store is never allowed.');
  expect(upstreamCalls().slice(before)).toEqual([]);
});

test('the proxy fails closed when Countersign refuses to be asked', async () => {
  const broken = await connectBin(t, ['proxy', '--name', 'notes', '--', TSX, UPSTREAM], { COUNTERSIGN_API_KEY: 'not-a-key', NOTES_CALL_LOG: callLog });
  try {
    const before = upstreamCalls().length;
    const result = await broken.callTool({ name: 'read_note', arguments: { title: 'welcome' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('Not run: Countersign refused the approval request: unauthorized');
    expect(upstreamCalls().length).toBe(before);
  } finally {
    await broken.close();
  }
}, 60_000);

test('a call still waiting at the bound is not run; the same call later joins that request, and an approval runs it once', async () => {
  const patient = await connectBin(t, ['proxy', '--wait-seconds', '1', '--', TSX, UPSTREAM], { NOTES_CALL_LOG: callLog });
  try {
    const args = { name: 'publish', arguments: { title: 'weekly', body: 'Week 48 notes' } };
    const first = await patient.callTool(args);
    expect(first.isError).toBe(true);
    expect(textOf(first)).toMatch(/^Not run: publish is waiting for approval \(Countersign request [0-9a-f-]+, still pending/);
    const pending = await newestRequest(t, 'mcp.notes.publish');
    expect(textOf(first)).toContain(pending.id);
    await vote(t, pending.id, 'alice@example.com', 'approve');

    const before = upstreamCalls().length;
    expect(await patient.callTool(args)).toMatchObject({ content: [{ type: 'text', text: 'published weekly' }] });
    // That approval is spent: the same call asks again.
    const again = await patient.callTool(args);
    expect(textOf(again)).toContain('is waiting for approval');
    expect(textOf(again)).not.toContain(pending.id);
    expect(upstreamCalls().slice(before)).toEqual(['publish']);
  } finally {
    await patient.close();
  }
}, 60_000);
