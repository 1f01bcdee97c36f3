/**
 * Countersign as an MCP server: the tools `request_approval`, `get_approval` and `report_outcome` and the resource
 * `countersign://approvals/pending`, over whatever transport the caller connects (stdio in `countersign-mcp`,
 * Streamable HTTP at `/mcp` on the service). It speaks to the API with the caller's key through the TypeScript
 * client, so every rule of the service (scopes, self-approval, limits, audit) applies unchanged.
 *
 * Only a decision recorded by the service counts: this server never asks the MCP client to confirm anything
 * (no elicitation), because an answer from the agent's own host is not an approver's.
 */
import { z } from 'zod';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { InMemoryTaskStore, type CreateTaskResult } from '@modelcontextprotocol/sdk/experimental/tasks/index.js';
import {
  CallToolRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CountersignClient, CountersignError, type Approval, type ApprovalInput } from '../../clients/typescript/src/index';
import { submitRequestBody } from '../http/contract/requests-contract';

export const PENDING_URI = 'countersign://approvals/pending';

export interface ApprovalServerOptions {
  client: CountersignClient;
  /** Longest a `request_approval` call without a task waits before answering "still pending" (default 50 s, under MCP clients' usual 60 s request timeout). */
  maxWaitSeconds?: number;
  /** How often a waiting call reports progress (to clients that sent a progress token); default 10 s. */
  progressSeconds?: number;
  /** Aborts every wait in progress (the service is shutting down). */
  signal?: AbortSignal;
  version?: string;
}

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Approval state as tool output: one line for the model, the facts as structured content. */
export function approvalResult(a: Approval): CallToolResult {
  const head = `${a.status.toUpperCase()} (Countersign request ${a.id}): ${a.summary}.`;
  const next = a.approved
    ? ' You may proceed; afterwards call report_outcome with this id.'
    : a.final
      ? ' Do not proceed.'
      : ` Not approved yet: do not proceed. Call get_approval with id "${a.id}" to keep waiting.`;
  return {
    content: [{ type: 'text', text: head + next }],
    structuredContent: { id: a.id, status: a.status, approved: a.approved, final: a.final, summary: a.summary, decidedBy: a.decidedBy, reason: a.reason, approvers: a.approvers, deniers: a.deniers, rule: a.rule },
    // A "no" (or an error) reaches the model as a tool error; pending is an answer, not a failure of the tool.
    isError: a.final && !a.approved,
  };
}

function errorResult(err: unknown): CallToolResult {
  const text = err instanceof CountersignError ? `Countersign refused: ${err.code}${err.field ? ` (${err.field})` : ''}: ${err.message}` : `Countersign could not be asked: ${(err as Error).message}`;
  return { content: [{ type: 'text', text: `${text} Nothing was approved.` }], isError: true };
}

/** The intake body's JSON Schema, inlined: MCP wants `type: object` at the top, not a `$ref` to the named schema. */
function intakeInputSchema(): Tool['inputSchema'] {
  const { $schema: _dialect, $ref, $defs, ...rest } = z.toJSONSchema(submitRequestBody, { io: 'input', unrepresentable: 'any' }) as Record<string, any>;
  const name = typeof $ref === 'string' ? $ref.replace('#/$defs/', '') : undefined;
  if (!name) return { ...rest, type: 'object' };
  const { [name]: body, ...others } = $defs ?? {};
  return { ...body, ...(Object.keys(others).length ? { $defs: others } : {}), type: 'object' };
}
const requestApprovalInput = intakeInputSchema();

const TOOLS: Tool[] = [
  {
    name: 'request_approval',
    title: 'Ask a person to approve an action',
    description:
      'Ask Countersign for approval before a privileged action (the fields of POST /v1/requests). Routine actions are approved by policy at once; ' +
      'sensitive ones wait for human approvers in Slack, Teams or the API. Proceed only when the answer is APPROVED.',
    inputSchema: requestApprovalInput,
    execution: { taskSupport: 'optional' },
  },
  {
    name: 'get_approval',
    title: 'Check an approval request',
    description: 'The state of an approval request; waits up to waitSeconds for a decision.',
    inputSchema: { type: 'object', properties: { id: { type: 'string', description: 'The request id.' }, waitSeconds: { type: 'number', minimum: 0, description: 'Wait this long for a decision.' } }, required: ['id'] },
  },
  {
    name: 'report_outcome',
    title: 'Report what happened after an approved action',
    description: 'Records the outcome of an approved action in the audit trail (once per request).',
    inputSchema: {
      type: 'object',
      properties: { id: { type: 'string' }, status: { type: 'string', enum: ['succeeded', 'failed', 'aborted'] }, detail: { type: 'string', maxLength: 4000 } },
      required: ['id', 'status'],
    },
  },
];

/** A new MCP server for one connection (one session), bound to one Countersign client (one API key). */
export function createApprovalServer(opts: ApprovalServerOptions): Server {
  const client = opts.client;
  const bound = (opts.maxWaitSeconds ?? 50) * 1000;
  const progressMs = Math.max(1, opts.progressSeconds ?? 10) * 1000;
  const taskStore = new InMemoryTaskStore();
  const server = new Server(
    { name: 'countersign', version: opts.version ?? '1.0.0' },
    {
      capabilities: { tools: {}, resources: {}, tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
      taskStore,
      instructions: 'Call request_approval before any privileged or irreversible action and proceed only when it answers APPROVED.',
    },
  );
  const lifetime = new AbortController();
  server.onclose = () => {
    lifetime.abort();
    taskStore.cleanup();
  };

  const signalOf = (extra: Extra) => (opts.signal ? AbortSignal.any([extra.signal, opts.signal]) : extra.signal);

  /** Waits within the bound in slices, telling a client that asked for progress how the wait goes after each. */
  async function waitBounded(id: string, extra: Extra, waitMs: number): Promise<Approval> {
    const token = extra._meta?.progressToken;
    const started = Date.now();
    const deadline = started + waitMs;
    for (;;) {
      const remaining = deadline - Date.now();
      const a = await client.waitForDecision(id, { timeoutMs: Math.max(0, Math.min(progressMs, remaining)), signal: signalOf(extra) });
      if (a.final || remaining <= progressMs) return a;
      if (token === undefined) continue;
      const received = a.request?.approvals.received ?? 0;
      const required = a.request?.approvals.required ?? 1;
      await extra
        .sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: Math.round((Date.now() - started) / 1000), total: Math.round(waitMs / 1000), message: `waiting for approvers (request ${id}): ${received} of ${required} approval(s)` },
        })
        .catch(() => undefined);
    }
  }

  /** Keeps watching a request for a task until it is decided, the task is cancelled, or the request expires. */
  async function watchForTask(taskId: string, requestId: string): Promise<void> {
    // A watcher ends with its connection (or the service): a closed session's tasks are not watched any more.
    const stop = opts.signal ? AbortSignal.any([lifetime.signal, opts.signal]) : lifetime.signal;
    try {
      for (;;) {
        const a = await client.waitForDecision(requestId, { timeoutMs: 15_000, signal: stop });
        const task = await taskStore.getTask(taskId);
        if (!task || task.status === 'cancelled') {
          // The agent withdrew its question: withdraw the request too.
          if (!a.final) await client.cancel(requestId, 'the MCP task was cancelled').catch(() => undefined);
          return;
        }
        if (a.final) return taskStore.storeTaskResult(taskId, 'completed', approvalResult(a));
        await taskStore.updateTaskStatus(taskId, 'working', `waiting for approvers (request ${requestId})`).catch(() => undefined);
      }
    } catch (err) {
      const task = await taskStore.getTask(taskId).catch(() => null);
      if (task && task.status === 'working') await taskStore.storeTaskResult(taskId, 'failed', errorResult(err)).catch(() => undefined);
    }
  }

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult | CreateTaskResult> => {
    const args = (request.params.arguments ?? {}) as Record<string, unknown>;
    try {
      switch (request.params.name) {
        case 'request_approval': {
          const intake = await client.submit(args as unknown as ApprovalInput, { signal: signalOf(extra) });
          if (request.params.task && extra.taskStore) {
            const ttl = Math.max(60_000, Date.parse(intake.expiresAt) - Date.now() + 3_600_000);
            const task = await extra.taskStore.createTask({ ttl, pollInterval: 2_000 });
            void watchForTask(task.taskId, intake.id);
            return { task };
          }
          return approvalResult(await waitBounded(intake.id, extra, intake.status === 'pending' ? bound : 0));
        }
        case 'get_approval': {
          const waitMs = Math.min(bound, Math.max(0, Number(args.waitSeconds ?? 0) * 1000));
          return approvalResult(await waitBounded(String(args.id ?? ''), extra, waitMs));
        }
        case 'report_outcome': {
          const r = await client.reportOutcome(String(args.id ?? ''), { status: args.status as 'succeeded', detail: typeof args.detail === 'string' ? args.detail : undefined });
          return { content: [{ type: 'text', text: `Outcome ${r.outcome} recorded for request ${r.id}.` }], structuredContent: r };
        }
        default:
          return { content: [{ type: 'text', text: `No tool named ${request.params.name}.` }], isError: true };
      }
    } catch (err) {
      if (extra.signal.aborted) throw err;
      return errorResult(err);
    }
  });

  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [{ uri: PENDING_URI, name: 'pending_approvals', title: 'Pending approvals', description: "This key's requests still waiting for approvers.", mimeType: 'application/json' }],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
    if (request.params.uri !== PENDING_URI) throw new Error(`Unknown resource ${request.params.uri}`);
    const page = await client.listRequests({ status: 'pending', limit: 100 });
    const items = page.items.map((r) => ({ id: r.id, action: r.action, resource: r.resource, requester: r.requester.id, approvals: r.approvals, expiresAt: r.expiresAt, createdAt: r.createdAt }));
    return { contents: [{ uri: PENDING_URI, mimeType: 'application/json', text: JSON.stringify({ items }, null, 2) }] };
  });

  return server;
}
