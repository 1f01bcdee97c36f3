/**
 * The MCP approval proxy: starts an upstream MCP server, exposes its tools unchanged, and submits every `tools/call`
 * to Countersign first (action `mcp.<server>.<tool>`, the arguments as context). Routine calls pass at once by
 * policy; sensitive ones wait for the approvers; a call that is denied, expires or is still pending at the bound is
 * not forwarded and answers a tool error saying who decided and why. The agent and the upstream server change
 * nothing. Fails closed: if Countersign cannot be asked, the call is not made.
 */
import { createHash } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CallToolRequestSchema, CallToolResultSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ApprovalNotGrantedError, canonicalJson, CountersignError, GrantVerificationError, type ApprovalInput, type CountersignClient } from '../../clients/typescript/src/index';
import { argumentsAsContext, environmentFromEnv, mcpAction, requesterFromEnv } from './tool-call-request';

export interface ApprovalProxyOptions {
  client: CountersignClient;
  /** The upstream server's command line. */
  command: string;
  args: string[];
  /** `<server>` in `mcp.<server>.<tool>`; default: the name the upstream server gives itself. */
  name?: string;
  /** Longest wait for approvers per call before answering "still pending" (default 10 minutes). */
  maxWaitSeconds?: number;
  env?: NodeJS.ProcessEnv;
  /** Where the upstream server's stderr goes (default: this process's). */
  stderr?: 'inherit' | 'ignore' | 'pipe';
}

export interface ApprovalProxy {
  server: Server;
  upstreamName: string;
  /** Connects the proxy to the agent's side (stdio in `countersign-mcp proxy`). */
  connect(transport: Transport): Promise<void>;
  close(): Promise<void>;
}

function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

export async function startApprovalProxy(opts: ApprovalProxyOptions): Promise<ApprovalProxy> {
  const env = opts.env ?? process.env;
  const upstream = new Client({ name: 'countersign-proxy', version: '1.0.0' });
  const upstreamEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string' && !e[0].startsWith('COUNTERSIGN_')));
  // The upstream server never sees Countersign's key.
  await upstream.connect(new StdioClientTransport({ command: opts.command, args: opts.args, env: upstreamEnv, stderr: opts.stderr ?? 'inherit' }));
  const info = upstream.getServerVersion();
  const upstreamName = opts.name ?? info?.name ?? opts.command;
  const waitMs = (opts.maxWaitSeconds ?? 600) * 1000;
  // A call repeated after a "still pending" answer joins the same request; once a request has been used to run the
  // tool, the same call asks again.
  const generations = new Map<string, number>();

  const server = new Server(
    { name: upstreamName, version: info?.version ?? '0.0.0', title: `${info?.title ?? upstreamName} (approvals by Countersign)` },
    { capabilities: { tools: {} }, instructions: upstream.getInstructions() },
  );

  server.setRequestHandler(ListToolsRequestSchema, async (request) => upstream.listTools(request.params));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const { name, arguments: args } = request.params;
    const callKey = createHash('sha256').update(canonicalJson({ server: upstreamName, name, args: args ?? {} })).digest('hex');
    const generation = generations.get(callKey) ?? 0;
    const input: ApprovalInput = {
      action: mcpAction(upstreamName, name),
      resource: `mcp://${upstreamName}/${name}`,
      ...requesterFromEnv(env, `mcp-proxy:${upstreamName}`),
      ...environmentFromEnv(env),
      justification: `MCP tool call ${name} on ${upstreamName}, through the Countersign approval proxy`,
      context: argumentsAsContext(args, { mcp_server: upstreamName, mcp_tool: name }),
    };
    const token = extra._meta?.progressToken;
    const started = Date.now();
    try {
      const { value } = await opts.client.guard(input, () => upstream.callTool({ name, arguments: args }, CallToolResultSchema, { signal: extra.signal, timeout: 600_000 }), {
        idempotencyKey: `mcp-proxy:${callKey.slice(0, 48)}:${generation}`,
        wait: {
          timeoutMs: waitMs,
          signal: extra.signal,
          onPending: (a) => {
            if (token === undefined) return;
            void extra
              .sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: Math.round((Date.now() - started) / 1000), message: `waiting for approval (Countersign request ${a.id})` } })
              .catch(() => undefined);
          },
        },
        outcomeOf: (r) => (r.isError ? { status: 'failed', detail: 'the upstream tool answered with an error' } : { status: 'succeeded' }),
      });
      generations.set(callKey, generation + 1);
      return value as CallToolResult;
    } catch (err) {
      // Only a call still waiting, or one Countersign could not be asked about, may join its request again: an
      // approval that was decided, or used to run the tool (even if the tool then failed), is spent.
      const retryable = (err instanceof ApprovalNotGrantedError && !err.approval.final) || err instanceof CountersignError;
      if (!retryable) generations.set(callKey, generation + 1);
      if (err instanceof ApprovalNotGrantedError) {
        const a = err.approval;
        if (!a.final) return toolError(`Not run: ${name} is waiting for approval (Countersign request ${a.id}, ${a.summary}). Call it again later with the same arguments to keep waiting.`);
        return toolError(`Not run: Countersign ${a.summary} (request ${a.id}).`);
      }
      if (err instanceof GrantVerificationError) return toolError(`Not run: ${err.message} (request ${err.approval.id}).`);
      if (err instanceof CountersignError) return toolError(`Not run: Countersign refused the approval request: ${err.code}: ${err.message}`);
      if (extra.signal.aborted) throw err;
      // The tool itself failed after approval: its error is the upstream's, reported as such.
      return toolError(`${name} failed: ${(err as Error).message}`);
    }
  });

  return {
    server,
    upstreamName,
    connect: (transport) => server.connect(transport),
    async close() {
      await server.close().catch(() => undefined);
      await upstream.close().catch(() => undefined);
    },
  };
}
