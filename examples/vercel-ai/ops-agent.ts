/**
 * Recipe: the Vercel AI SDK's tool approval answered by Countersign.
 *
 * `toolApproval` asks Countersign for each call and waits a little: approved or denied becomes the SDK's answer (a
 * denial reaches the model with who denied and why). Still pending after the wait, the call is left to
 * 'user-approval': the run stops with a `tool-approval-request`, and `resume` later answers it with Countersign's
 * decision (same tool call id, same request) and continues.
 */
import { generateText, stepCountIs, tool, type LanguageModel, type ModelMessage, type ToolApprovalStatus } from 'ai';
import { z } from 'zod';
import { CountersignClient, type ApprovalInput } from '@countersign/client';

const countersign = CountersignClient.fromEnv(); // COUNTERSIGN_URL, COUNTERSIGN_API_KEY

const tools = {
  restartService: tool({
    description: 'Restart a production service',
    inputSchema: z.object({ service: z.string() }),
    execute: async ({ service }) => `restarted ${service}`,
  }),
};

const restartRequest = ({ service }: { service: string }): ApprovalInput => ({
  action: 'service.restart',
  resource: `k8s://prod/${service}`,
  environment: 'production',
  requester: { id: 'ops-agent', type: 'agent' },
});

/** Countersign's decision as the SDK's approval status; `waitMs` bounds the wait before pausing the run. */
async function askCountersign(input: { service: string }, toolCallId: string, waitMs: number): Promise<ToolApprovalStatus> {
  const a = await countersign.requestApproval(restartRequest(input), { idempotencyKey: `ai-sdk:${toolCallId}`, wait: { timeoutMs: waitMs } });
  if (a.approved) return { type: 'approved', reason: a.summary };
  if (a.final) return { type: 'denied', reason: `Countersign: ${a.summary}` };
  return { type: 'user-approval', reason: `waiting for Countersign request ${a.id}` };
}

export function runOps(model: LanguageModel, messages: ModelMessage[], waitMs = 20_000) {
  return generateText({
    model,
    tools,
    messages,
    stopWhen: stepCountIs(5),
    toolApproval: { restartService: (input, { toolCallId }) => askCountersign(input, toolCallId, waitMs) },
  });
}

/** Answers a paused run's approval requests with Countersign's decisions (waiting for them) and continues. */
export async function resume(model: LanguageModel, messages: ModelMessage[], paused: Awaited<ReturnType<typeof runOps>>) {
  const answers = [];
  for (const part of paused.content) {
    if (part.type !== 'tool-approval-request') continue;
    const status = await askCountersign(part.toolCall.input as { service: string }, part.toolCall.toolCallId, 10 * 60_000);
    const approved = typeof status === 'object' && status.type === 'approved';
    answers.push({ type: 'tool-approval-response' as const, approvalId: part.approvalId, approved, reason: typeof status === 'object' ? status.reason : undefined });
  }
  return runOps(model, [...messages, ...paused.response.messages, { role: 'tool', content: answers }]);
}
