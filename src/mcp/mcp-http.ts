/**
 * Countersign's MCP server over Streamable HTTP, mounted on the service at `/mcp`. A session is opened with an API
 * key (`Authorization: Bearer`, scope `submit`; authenticated and throttled like every `/v1` route) and stays bound
 * to that key. Each session's tools call this service's own API over loopback with the same key, so scopes,
 * self-approval, limits and the audit trail apply exactly as for any agent, and no `/v1` hot path changes.
 * Sessions live in this node's memory (a load balancer needs session affinity on `mcp-session-id`).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CountersignClient } from '../../clients/typescript/src/index';
import { createApprovalServer } from './approval-server';

export const MCP_PATH = '/mcp';
/** A session nobody used for this long is closed. */
const IDLE_MS = 30 * 60_000;

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
  keyId: string;
  lastSeen: number;
}

export interface McpRouteDeps {
  /** Aborted when the service starts shutting down: waits in progress answer at once. */
  shutdown: AbortSignal;
  /** Bound of a `request_approval` wait without a task, in seconds. */
  maxWaitSeconds?: number;
}

/** This service's own address, for the loopback calls (the listening host, or loopback when it listens everywhere). */
function selfUrl(app: FastifyInstance): string {
  const a = app.server.address() as AddressInfo | null;
  if (!a) throw new Error('the server is not listening');
  const host = a.address === '0.0.0.0' ? '127.0.0.1' : a.address === '::' ? '::1' : a.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}

function rpcError(reply: FastifyReply, status: number, message: string) {
  return reply.status(status).send({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
}

/** Registers `/mcp` on an instance whose `onRequest` hook authenticates the API key (see server.ts). */
export function registerMcpRoute(app: FastifyInstance, deps: McpRouteDeps): void {
  const sessions = new Map<string, Session>();
  const sweep = setInterval(() => {
    for (const [id, s] of sessions) if (Date.now() - s.lastSeen > IDLE_MS) void s.transport.close().finally(() => sessions.delete(id));
  }, 60_000);
  sweep.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweep);
    await Promise.all([...sessions.values()].map((s) => s.transport.close().catch(() => undefined)));
    sessions.clear();
  });

  app.route({
    method: ['POST', 'GET', 'DELETE'],
    url: MCP_PATH,
    config: { scope: 'submit' },
    schema: { hide: true },
    handler: async (req, reply) => {
      const key = req.principal;
      const sessionId = req.headers['mcp-session-id'];
      let session: Session | undefined;
      if (typeof sessionId === 'string') {
        session = sessions.get(sessionId);
        // A session belongs to the key that opened it: another key is told it does not exist.
        if (!session || session.keyId !== key.id) return rpcError(reply, 404, 'Session not found');
      } else if (req.method === 'POST' && isInitializeRequest(req.body)) {
        const apiKey = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '');
        const server = createApprovalServer({ client: new CountersignClient({ baseUrl: selfUrl(app), apiKey, maxWaitSeconds: deps.maxWaitSeconds }), signal: deps.shutdown, maxWaitSeconds: deps.maxWaitSeconds });
        const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            sessions.set(id, opened);
          },
        });
        const opened: Session = { transport, server, keyId: key.id, lastSeen: Date.now() };
        transport.onclose = () => {
          if (transport.sessionId) sessions.delete(transport.sessionId);
        };
        await server.connect(transport);
        session = opened;
      } else {
        return rpcError(reply, 400, 'No valid session: send initialize first, then the mcp-session-id it returned');
      }
      session.lastSeen = Date.now();
      reply.hijack();
      await session.transport.handleRequest(req.raw, reply.raw, req.body);
    },
  });
}
