/** Countersign's MCP server over Streamable HTTP at /mcp on the service: the SDK's client, API-key sessions, waits. */
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { KEYS, startTestApp, type TestApp } from '../support/start-app';
import { newestRequest, textOf, vote } from './mcp-support';

let t: TestApp;
const clients: Client[] = [];

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await t?.close();
});

async function connect(key: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'http-agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${t.baseUrl}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

const ask = (action: string, extra: Record<string, unknown> = {}) => ({
  action,
  resource: 'k8s://prod/payments',
  environment: 'production',
  requester: { id: 'http-agent', type: 'agent' },
  traceId: randomUUID(),
  ...extra,
});

test('an agent connects with its API key and asks; a person approves while the call waits', async () => {
  const { client } = await connect(KEYS.agent);
  expect((await client.listTools()).tools.map((x) => x.name)).toContain('request_approval');
  const routine = await client.callTool({ name: 'request_approval', arguments: ask('table.read', { environment: 'dev' }) });
  expect(routine.structuredContent).toMatchObject({ approved: true, decidedBy: 'policy' });

  const waiting = client.callTool({ name: 'request_approval', arguments: ask('service.restart') }, CallToolResultSchema, { onprogress: () => undefined, timeout: 60_000 });
  const pending = await newestRequest(t, 'service.restart');
  // The request was submitted with the session's key, as any agent's would be.
  expect(pending.submittedBy).toMatchObject({ apiKey: 'agent', owner: expect.any(String) });
  await vote(t, pending.id, 'bob@example.com', 'approve');
  const decided = await waiting;
  expect(decided.isError).toBe(false);
  expect(textOf(decided)).toContain('approved by bob@example.com');
});

test('/mcp takes API keys like the API: none is 401, a key without submit 403, another key cannot use a session', async () => {
  const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const anonymous = await fetch(`${t.baseUrl}/mcp`, { method: 'POST', headers, body: JSON.stringify(init) });
  expect(anonymous.status).toBe(401);
  expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
  const reader = await fetch(`${t.baseUrl}/mcp`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${KEYS.reader}` }, body: JSON.stringify(init) });
  expect(reader.status).toBe(403);
  await reader.arrayBuffer();

  const { transport } = await connect(KEYS.agent);
  const sessionId = transport.sessionId!;
  expect(sessionId).toBeTruthy();
  const list = { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} };
  const stolen = await fetch(`${t.baseUrl}/mcp`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${KEYS.agent2}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' }, body: JSON.stringify(list) });
  expect(stolen.status).toBe(404);
  await stolen.arrayBuffer();
  const noSession = await fetch(`${t.baseUrl}/mcp`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${KEYS.agent}` }, body: JSON.stringify(list) });
  expect(noSession.status).toBe(400);
  await noSession.arrayBuffer();
});
