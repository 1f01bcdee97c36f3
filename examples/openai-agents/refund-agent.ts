/**
 * Recipe: the OpenAI Agents SDK with Countersign deciding `needsApproval`.
 *
 * The tool asks Countersign when the model calls it. Routine calls (approved by policy at once) run without pausing;
 * anything else pauses the run with an interruption. Save `result.state.toString()`, and once Countersign has decided
 * (wait for it, or on its result callback) resume from the saved state: the same tool call maps to the same request
 * (idempotency key = the call id), so the decision is read back rather than asked again.
 */
import { Agent, run, RunState, tool, type Model } from '@openai/agents';
export { run };
import { z } from 'zod';
import { CountersignClient, type ApprovalInput } from '@countersign/client';

const countersign = CountersignClient.fromEnv(); // COUNTERSIGN_URL, COUNTERSIGN_API_KEY

const refundRequest = (input: { paymentId: string; amountCents: number }): ApprovalInput => ({
  action: 'payments.refund',
  resource: `stripe://payments/${input.paymentId}`,
  requester: { id: 'support-agent', type: 'agent' },
  justification: `Refund ${input.amountCents} cents`,
  context: { amountCents: input.amountCents },
});

export const refund = tool({
  name: 'refund_payment',
  description: 'Refund a customer payment',
  parameters: z.object({ paymentId: z.string(), amountCents: z.number().int() }),
  // true = pause the run. Only an approval recorded by Countersign lets the call through.
  needsApproval: async (_ctx, input, callId) =>
    !(await countersign.requestApproval(refundRequest(input), { idempotencyKey: `refund:${callId}`, wait: false })).approved,
  execute: async ({ paymentId, amountCents }) => `refunded ${amountCents} cents on ${paymentId}`,
});

export function supportAgent(model?: Model) {
  return new Agent({ name: 'Support', instructions: 'Resolve billing requests.', tools: [refund], ...(model ? { model } : {}) });
}

/** Resumes a paused run once Countersign has decided each pending tool call (waits for the decisions). */
export async function resumeWhenDecided(agent: Agent, savedState: string, opts: { timeoutMs?: number } = {}) {
  const state = await RunState.fromString(agent, savedState);
  for (const item of state.getInterruptions()) {
    const call = item.rawItem as { callId: string; arguments: string };
    const decision = await countersign.requestApproval(refundRequest(JSON.parse(call.arguments)), { idempotencyKey: `refund:${call.callId}`, wait: { timeoutMs: opts.timeoutMs } });
    if (decision.approved) state.approve(item);
    else state.reject(item, { message: `Not approved by Countersign: ${decision.summary}` });
  }
  return run(agent, state);
}
