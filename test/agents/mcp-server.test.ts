/**
 * Countersign's MCP server through the real `countersign-mcp` bin over stdio (and the SDK's own client): tools,
 * progress while waiting within the bound, tasks that complete when the request is decided, the pending resource, and
 * an MCP client's elicitation never standing in for an approver.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { KEYS, startTestApp, type TestApp } from '../support/start-app';
import { connectBin, newestRequest, textOf, vote } from './mcp-support';

let t: TestApp;
let mcp: Client;
let elicitations = 0;

beforeAll(async () => {
  t = await startTestApp();
  mcp = await connectBin(t, [], { COUNTERSIGN_MCP_WAIT_SECONDS: '3', COUNTERSIGN_MCP_PROGRESS_SECONDS: '1' }, { elicitation: { form: {} } });
  // A host that says yes to anything: its answer must never count as an approval.
  mcp.setRequestHandler(ElicitRequestSchema, async () => {
    elicitations++;
    return { action: 'accept', content: { approve: true } };
  });
});
afterAll(async () => {
  await mcp?.close();
  await t?.close();
});

const ask = (action: string, extra: Record<string, unknown> = {}) => ({
  action,
  resource: 'k8s://prod/payments',
  environment: 'production',
  risk: 'high',
  requester: { id: 'mcp-agent', type: 'agent' },
  traceId: randomUUID(),
  ...extra,
});

test('the tools take the fields of POST /v1/requests; request_approval supports tasks', async () => {
  const { tools } = await mcp.listTools();
  expect(tools.map((x) => x.name).sort()).toEqual(['get_approval', 'report_outcome', 'request_approval']);
  const request = tools.find((x) => x.name === 'request_approval')!;
  expect(Object.keys(request.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['action', 'resource', 'requester', 'context', 'justification', 'risk']));
  expect(request.inputSchema.required).toEqual(expect.arrayContaining(['action', 'resource', 'requester']));
  expect(request.execution?.taskSupport).toBe('optional');
});

test('a routine action is approved at once; a forbidden one is a tool error with the policy reason', async () => {
  const ok = await mcp.callTool({ name: 'request_approval', arguments: ask('table.read', { environment: 'dev' }) });
  expect(ok.isError).toBe(false);
  expect(textOf(ok)).toMatch(/^APPROVED \(Countersign request [0-9a-f-]+\): approved by policy\. You may proceed/);
  expect(ok.structuredContent).toMatchObject({ approved: true, status: 'approved', rule: 'routine-reads' });

  const no = await mcp.callTool({ name: 'request_approval', arguments: ask('table.delete') });
  expect(no.isError).toBe(true);
  expect(textOf(no)).toContain('denied by policy: Deletes are never allowed for agents.');

  const invalid = await mcp.callTool({ name: 'request_approval', arguments: { action: 'x' } });
  expect(invalid.isError).toBe(true);
  expect(textOf(invalid)).toContain('validation_failed');
});

test('a sensitive action reports progress, answers "still pending" at the bound, and is never approved by the client itself', async () => {
  const progress: string[] = [];
  const started = await mcp.callTool({ name: 'request_approval', arguments: ask('service.restart') }, CallToolResultSchema, { onprogress: (p) => progress.push(p.message ?? '') });
  expect(started.isError).toBe(false);
  expect(started.structuredContent).toMatchObject({ approved: false, status: 'pending', final: false });
  expect(textOf(started)).toContain('Not approved yet: do not proceed. Call get_approval');
  expect(progress.length).toBeGreaterThan(0);
  expect(progress[0]).toMatch(/^waiting for approvers \(request .+\): 0 of 1 approval/);
  expect(elicitations).toBe(0);

  const id = (started.structuredContent as { id: string }).id;
  await vote(t, id, 'alice@example.com', 'approve');
  const decided = await mcp.callTool({ name: 'get_approval', arguments: { id, waitSeconds: 2 } });
  expect(decided.structuredContent).toMatchObject({ approved: true, approvers: ['alice@example.com'] });
  expect(textOf(decided)).toContain('approved by alice@example.com');

  const reported = await mcp.callTool({ name: 'report_outcome', arguments: { id, status: 'succeeded', detail: 'restarted 6 pods' } });
  expect(textOf(reported)).toBe(`Outcome succeeded recorded for request ${id}.`);
  expect((await t.call('GET', `/v1/requests/${id}`, { key: KEYS.agent })).body.outcomeReport).toMatchObject({ status: 'succeeded', detail: 'restarted 6 pods' });
});

test('with MCP tasks, request_approval returns a task that completes when the request is decided', async () => {
  const args = ask('iam.grant', { resource: 'iam://prod/role/admin' });
  const stream = mcp.experimental.tasks.callToolStream({ name: 'request_approval', arguments: args }, CallToolResultSchema, { task: { ttl: 600_000 } });
  const seen: string[] = [];
  let result: any;
  let voted = false;
  for await (const message of stream) {
    seen.push(message.type);
    if (message.type === 'taskCreated' && !voted) {
      voted = true;
      const pending = await newestRequest(t, 'iam.grant');
      expect(pending.traceId).toBe(args.traceId);
      expect((await mcp.experimental.tasks.getTask(message.task.taskId)).status).toBe('working');
      await vote(t, pending.id, 'dave@example.com', 'deny', 'no standing admin roles');
    }
    if (message.type === 'result') result = message.result;
  }
  expect(seen[0]).toBe('taskCreated');
  expect(result.isError).toBe(true);
  expect(textOf(result)).toContain('denied by dave@example.com: no standing admin roles');
  expect(elicitations).toBe(0);
});

test('the pending_approvals resource lists what still waits for approvers', async () => {
  const waiting = await mcp.callTool({ name: 'request_approval', arguments: ask('dns.change', { resource: 'dns://prod/example.com' }) });
  const id = (waiting.structuredContent as { id: string }).id;
  const { resources } = await mcp.listResources();
  expect(resources).toEqual([expect.objectContaining({ uri: 'countersign://approvals/pending', name: 'pending_approvals' })]);
  const read = await mcp.readResource({ uri: 'countersign://approvals/pending' });
  const items = JSON.parse((read.contents[0] as { text: string }).text).items;
  expect(items).toEqual(expect.arrayContaining([expect.objectContaining({ id, action: 'dns.change', approvals: { required: 1, received: 0 } })]));
  expect(items.every((i: { id: string }) => i.id)).toBe(true);
});
