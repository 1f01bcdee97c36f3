/**
 * What an agent's tool call becomes as an approval request, shared by the MCP approval proxy and the Claude Code
 * hook so that one policy rule covers a tool however it is reached: action names (`mcp.<server>.<tool>`), the
 * arguments as context (within the intake limits; sensitive keys are hashed by the service as usual), and the
 * requester from the environment.
 */
import { createHash } from 'node:crypto';
import type { ApprovalInput } from '../../clients/typescript/src/index';
import { canonicalJson } from '../../clients/typescript/src/index';

/** Intake limits on `context` (src/http/contract/requests-contract.ts). */
const MAX_ENTRIES = 50;
const MAX_KEY = 100;
const MAX_STRING = 2000;

/** An action segment: the intake accepts letters, digits and `_ . : / -`; anything else becomes `_`. */
export function actionSegment(name: string): string {
  return name.replace(/[^A-Za-z0-9_:/-]/g, '_').slice(0, 80) || '_';
}

/** `mcp.<server>.<tool>`: the action every MCP tool call is submitted as, by the proxy and by the hook alike. */
export function mcpAction(server: string, tool: string): string {
  return `mcp.${actionSegment(server)}.${actionSegment(tool)}`;
}

/**
 * Tool arguments as request context: top-level entries kept by name, nested values as JSON, long strings cut with a
 * note (and the digest of the whole arguments added, so an approver can tell two long calls apart).
 */
export function argumentsAsContext(args: Record<string, unknown> | undefined, extra: Record<string, string | number | boolean> = {}): Record<string, string | number | boolean> {
  const context: Record<string, string | number | boolean> = {};
  let cut = false;
  const entries = Object.entries(args ?? {});
  const room = MAX_ENTRIES - Object.keys(extra).length - 2;
  for (const [i, [rawKey, value]] of entries.entries()) {
    if (i >= room) {
      context._more_arguments = `${entries.length - room} more argument(s) not shown`;
      cut = true;
      break;
    }
    const key = rawKey.slice(0, MAX_KEY) || '_';
    let v: string | number | boolean;
    if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) v = value;
    else v = typeof value === 'string' ? value : JSON.stringify(value ?? null);
    if (typeof v === 'string' && v.length > MAX_STRING) {
      v = `${v.slice(0, MAX_STRING - 40)}… (${v.length} characters, cut)`;
      cut = true;
    }
    context[key] = v;
  }
  if (cut) context._arguments_sha256 = createHash('sha256').update(canonicalJson(args ?? {})).digest('hex');
  return { ...context, ...extra };
}

/** Who the agent is, from the environment: `COUNTERSIGN_REQUESTER_ID` (else the fallback) and `COUNTERSIGN_ON_BEHALF_OF`. */
export function requesterFromEnv(env: NodeJS.ProcessEnv, fallbackId: string): Pick<ApprovalInput, 'requester' | 'onBehalfOf'> {
  const onBehalfOf = env.COUNTERSIGN_ON_BEHALF_OF?.trim();
  return {
    requester: { id: env.COUNTERSIGN_REQUESTER_ID?.trim() || fallbackId, type: 'agent', ...(env.COUNTERSIGN_MODEL ? { model: env.COUNTERSIGN_MODEL } : {}) },
    ...(onBehalfOf ? { onBehalfOf: onBehalfOf.includes('@') ? { email: onBehalfOf } : { id: onBehalfOf } } : {}),
  };
}

/** The optional `COUNTERSIGN_ENVIRONMENT`, which policies match on. */
export function environmentFromEnv(env: NodeJS.ProcessEnv): Pick<ApprovalInput, 'environment'> {
  return env.COUNTERSIGN_ENVIRONMENT ? { environment: env.COUNTERSIGN_ENVIRONMENT } : {};
}
