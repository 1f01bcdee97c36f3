/** Helpers for the MCP tests: the real `countersign-mcp` bin over stdio, and finding/deciding requests through the API. */
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { KEYS, type TestApp } from '../support/start-app';

export const ROOT = path.resolve(__dirname, '../..');
export const MCP_BIN = path.join(ROOT, 'bin/countersign-mcp.js');
export const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

/** Starts `countersign-mcp <args>` as an MCP client would, and connects to it. */
export async function connectBin(t: TestApp, args: string[], env: Record<string, string> = {}, capabilities: ClientCapabilities = {}): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' }, { capabilities });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [MCP_BIN, ...args],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', COUNTERSIGN_URL: t.baseUrl, COUNTERSIGN_API_KEY: KEYS.agent, ...env },
      stderr: 'pipe',
    }),
  );
  return client;
}

/** The newest request for `action`, once it exists. */
export async function newestRequest(t: TestApp, action: string, status = 'pending'): Promise<any> {
  return t.waitFor(async () => (await t.call('GET', `/v1/requests?action=${encodeURIComponent(action)}&status=${status}`, { key: KEYS.admin })).body.items[0], 15_000, `a ${status} ${action} request`);
}

export async function vote(t: TestApp, id: string, email: string, decision: 'approve' | 'deny', reason?: string): Promise<void> {
  const res = await t.call('POST', `/v1/requests/${id}/decisions`, { key: KEYS.approver, body: { approver: { email }, decision, ...(reason ? { reason } : {}) } });
  if (res.status !== 201) throw new Error(`vote refused: ${JSON.stringify(res.body)}`);
}

export function textOf(result: any): string {
  return (result.content ?? []).map((c: { text?: string }) => c.text ?? '').join('\n');
}
