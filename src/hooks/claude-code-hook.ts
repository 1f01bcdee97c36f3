/**
 * Claude Code's `PreToolUse` hook answered by Countersign: the tool call is submitted (MCP tools as
 * `mcp.<server>.<tool>`, like the MCP proxy; other tools as `claude-code.<Tool>`), the hook waits within its own
 * timeout, and prints the hook decision: `allow` or `deny` with who decided and why. With no decision in time (or no
 * answer from Countersign) it answers the configured fallback, `deny` or `ask`, never `allow`.
 *
 * A call repeated after a "still pending" answer joins the same request (keyed by session, tool and input); once a
 * request has let a call through, the same call asks again. That bookkeeping is a small file per session.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalJson, CountersignError, type Approval, type ApprovalInput, type CountersignClient } from '../../clients/typescript/src/index';
import { actionSegment, argumentsAsContext, environmentFromEnv, mcpAction, requesterFromEnv } from '../mcp/tool-call-request';

/** The hook input Claude Code writes on stdin for `PreToolUse`. */
export interface PreToolUseInput {
  session_id: string;
  transcript_path?: string;
  cwd?: string;
  hook_event_name: string;
  tool_name: string;
  tool_input: Record<string, unknown>;
  tool_use_id?: string;
  permission_mode?: string;
}

export interface PreToolUseOutput {
  hookSpecificOutput: { hookEventName: 'PreToolUse'; permissionDecision: 'allow' | 'deny' | 'ask'; permissionDecisionReason: string };
}

export interface ClaudeCodeHookOptions {
  client: CountersignClient;
  /** The hook's timeout in settings.json, in seconds (Claude Code's default: 60); the hook answers a few seconds before it. */
  timeoutSeconds?: number;
  /** What to answer when no decision came in time or Countersign could not be asked. Never `allow`. */
  onTimeout?: 'ask' | 'deny';
  env?: NodeJS.ProcessEnv;
  /** Where the per-session bookkeeping lives (default: the temp folder). */
  stateDir?: string;
}

/** Answer this long before Claude Code's own timeout kills the hook. */
const MARGIN_SECONDS = 5;

function decision(permissionDecision: 'allow' | 'deny' | 'ask', reason: string): PreToolUseOutput {
  return { hookSpecificOutput: { hookEventName: 'PreToolUse', permissionDecision, permissionDecisionReason: reason } };
}

/** What a tool call is about: the file, URL or working directory it touches. */
function resourceOf(input: PreToolUseInput, mcp: RegExpMatchArray | null): string {
  if (mcp) return `mcp://${mcp[1]}/${mcp[2]}`;
  const t = input.tool_input ?? {};
  const file = t.file_path ?? t.notebook_path ?? t.path;
  if (typeof file === 'string' && file) return `file://${file}`;
  if (typeof t.url === 'string' && t.url) return t.url;
  return `workspace://${input.cwd ?? 'unknown'}`;
}

/** The approval request for one tool call. */
export function toolUseRequest(input: PreToolUseInput, env: NodeJS.ProcessEnv): ApprovalInput {
  const mcp = input.tool_name.match(/^mcp__(.+?)__(.+)$/);
  const description = typeof input.tool_input?.description === 'string' ? `: ${input.tool_input.description}` : '';
  return {
    action: mcp ? mcpAction(mcp[1], mcp[2]) : `claude-code.${actionSegment(input.tool_name)}`,
    resource: resourceOf(input, mcp).slice(0, 1000),
    ...requesterFromEnv(env, 'claude-code'),
    ...environmentFromEnv(env),
    justification: `Claude Code wants to use ${input.tool_name}${description}`.slice(0, 4000),
    context: argumentsAsContext(input.tool_input, { claude_session: input.session_id.slice(0, 200), ...(input.cwd ? { cwd: input.cwd.slice(0, 2000) } : {}) }),
  };
}

function stateFile(dir: string, sessionId: string): string {
  return path.join(dir, `claude-${createHash('sha256').update(sessionId).digest('hex').slice(0, 32)}.json`);
}

function readState(file: string): Record<string, number> {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

function describe(a: Approval): string {
  return `Countersign: ${a.summary} (request ${a.id})`;
}

/** Decides one `PreToolUse` call. Never throws: every failure is the fallback decision with its reason. */
export async function answerPreToolUse(input: PreToolUseInput, opts: ClaudeCodeHookOptions): Promise<PreToolUseOutput> {
  const env = opts.env ?? process.env;
  const fallback = opts.onTimeout ?? 'deny';
  const budgetSeconds = Math.max(1, (opts.timeoutSeconds ?? 60) - MARGIN_SECONDS);
  const stateDir = opts.stateDir ?? path.join(tmpdir(), 'countersign-hook');
  const request = toolUseRequest(input, env);
  const callKey = createHash('sha256').update(canonicalJson({ tool: input.tool_name, input: input.tool_input ?? {} })).digest('hex').slice(0, 40);
  const file = stateFile(stateDir, input.session_id);
  const generation = readState(file)[callKey] ?? 0;
  try {
    const approval = await opts.client.requestApproval(request, {
      idempotencyKey: `claude-code:${createHash('sha256').update(input.session_id).digest('hex').slice(0, 24)}:${callKey}:${generation}`,
      wait: { timeoutMs: budgetSeconds * 1000 },
    });
    if (!approval.final) {
      return decision(fallback, `Countersign: no decision within ${budgetSeconds} s; request ${approval.id} is still pending with the approvers. ${fallback === 'deny' ? 'Not run. The same call later joins the same request.' : ''}`.trim());
    }
    // This request has now been spent on a call (allowed or refused): the same call later asks again.
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(file, JSON.stringify({ ...readState(file), [callKey]: generation + 1 }));
    return decision(approval.approved ? 'allow' : 'deny', describe(approval));
  } catch (err) {
    const why = err instanceof CountersignError ? `${err.code}: ${err.message}` : (err as Error).message;
    return decision(fallback, `Countersign could not be asked (${why}); not approved.`);
  }
}
