/**
 * The recipes in examples/, driven by each SDK's own scripted or mock model (no network), against the real service:
 * the OpenAI Agents SDK's needsApproval with the run resumed from its saved state, and the Vercel AI SDK's tool
 * approval answered by Countersign (at once, while waiting, or after a pause).
 */
import { setTracingDisabled } from '@openai/agents';
import { assistantMessage, functionCall, ScriptedModel } from '@openai/agents/testing';
import type { MockLanguageModelV4 as MockModel } from 'ai/dist/test/index';
import { KEYS, startTestApp, type TestApp } from '../support/start-app';
import { newestRequest, vote } from './mcp-support';

// `ai/test` is ESM with types behind package exports, which this project's CommonJS resolution does not read.
const { MockLanguageModelV4 } = require('ai/test') as { MockLanguageModelV4: typeof MockModel };

const POLICY = `
version: 1
groups:
  approvers: [alice@example.com, bob@example.com]
rules:
  - name: small-refunds
    match: { action: payments.refund, resource: "stripe://payments/auto-*" }
    outcome: approve
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
`;

let t: TestApp;
let recipes: { openai: typeof import('../../examples/openai-agents/refund-agent'); vercel: typeof import('../../examples/vercel-ai/ops-agent') };

beforeAll(async () => {
  t = await startTestApp({ policyYaml: POLICY });
  process.env.COUNTERSIGN_URL = t.baseUrl;
  process.env.COUNTERSIGN_API_KEY = KEYS.agent;
  setTracingDisabled(true);
  // The recipes read their configuration from the environment when loaded, as they would in an app.
  recipes = { openai: require('../../examples/openai-agents/refund-agent'), vercel: require('../../examples/vercel-ai/ops-agent') };
});
afterAll(async () => {
  delete process.env.COUNTERSIGN_URL;
  delete process.env.COUNTERSIGN_API_KEY;
  await t?.close();
});

/** What the model was told about a tool call in its latest request (the SDKs send tool outputs back to the model). */
const lastPrompt = (calls: readonly unknown[]) => JSON.stringify(calls[calls.length - 1]);

describe('OpenAI Agents SDK: needsApproval asks Countersign, the run resumes from its saved state', () => {
  test('a refund the policy approves runs without pausing', async () => {
    const model = new ScriptedModel([[functionCall('refund_payment', { paymentId: 'auto-1', amountCents: 500 }, { callId: 'call_auto' })], [assistantMessage('Refunded.')]]);
    const result = await recipes.openai.run(recipes.openai.supportAgent(model), 'Refund auto-1');
    expect(result.interruptions).toEqual([]);
    expect(result.finalOutput).toBe('Refunded.');
    expect(JSON.stringify(model.lastCall?.request)).toContain('refunded 500 cents on auto-1');
  });

  test('a refund that needs a person pauses; the saved state resumes once approved', async () => {
    const model = new ScriptedModel([[functionCall('refund_payment', { paymentId: 'pi_9', amountCents: 250_000 }, { callId: 'call_big' })], [assistantMessage('Refund done.')]]);
    const agent = recipes.openai.supportAgent(model);
    const paused = await recipes.openai.run(agent, 'Refund pi_9 in full');
    expect(paused.interruptions).toHaveLength(1);
    const saved = paused.state.toString();

    const pending = await newestRequest(t, 'payments.refund');
    expect(pending).toMatchObject({ resource: 'stripe://payments/pi_9', context: { amountCents: 250000 } });
    await vote(t, pending.id, 'alice@example.com', 'approve');
    const resumed = await recipes.openai.resumeWhenDecided(agent, saved);
    expect(resumed.finalOutput).toBe('Refund done.');
    expect(lastPrompt(model.calls.map((c) => c.request))).toContain('refunded 250000 cents on pi_9');
    // Resuming read the decision of the same request: nothing new was asked.
    expect((await t.call('GET', '/v1/requests?action=payments.refund&status=pending', { key: KEYS.admin })).body.items).toEqual([]);
  });

  test('a denied refund is rejected with who denied and why, and never runs', async () => {
    const model = new ScriptedModel([[functionCall('refund_payment', { paymentId: 'pi_10', amountCents: 90_000 }, { callId: 'call_no' })], [assistantMessage('I could not refund it.')]]);
    const agent = recipes.openai.supportAgent(model);
    const paused = await recipes.openai.run(agent, 'Refund pi_10');
    const pending = await newestRequest(t, 'payments.refund');
    await vote(t, pending.id, 'bob@example.com', 'deny', 'chargeback already open');
    const resumed = await recipes.openai.resumeWhenDecided(agent, paused.state.toString());
    expect(resumed.finalOutput).toBe('I could not refund it.');
    const told = lastPrompt(model.calls.map((c) => c.request));
    expect(told).toContain('Not approved by Countersign: denied by bob@example.com: chargeback already open');
    expect(told).not.toContain('refunded 90000');
  });
});

describe('Vercel AI SDK: tool approval answered by Countersign', () => {
  const usage = { inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 1, text: 1, reasoning: 0 } };
  const callRestart = (id: string) => ({ content: [{ type: 'tool-call' as const, toolCallId: id, toolName: 'restartService', input: JSON.stringify({ service: 'payments' }) }], finishReason: { unified: 'tool-calls' as const, raw: undefined }, usage, warnings: [] });
  const say = (text: string) => ({ content: [{ type: 'text' as const, text }], finishReason: { unified: 'stop' as const, raw: undefined }, usage, warnings: [] });
  const ask = [{ role: 'user' as const, content: 'Restart payments' }];

  test('approved while the call waits: the tool runs', async () => {
    const model = new MockLanguageModelV4({ doGenerate: [callRestart('tc_1'), say('Restarted.')] });
    const running = recipes.vercel.runOps(model, ask);
    const pending = await newestRequest(t, 'service.restart');
    await vote(t, pending.id, 'alice@example.com', 'approve');
    const result = await running;
    expect(result.text).toBe('Restarted.');
    expect(JSON.stringify(result.steps[0].content)).toContain('restarted payments');
  });

  test('denied: the model is told who denied and why, and the tool does not run', async () => {
    const model = new MockLanguageModelV4({ doGenerate: [callRestart('tc_2'), say('It was denied.')] });
    const running = recipes.vercel.runOps(model, ask);
    const pending = await newestRequest(t, 'service.restart');
    await vote(t, pending.id, 'bob@example.com', 'deny', 'change freeze');
    const result = await running;
    expect(result.text).toBe('It was denied.');
    const told = JSON.stringify(model.doGenerateCalls[1].prompt);
    expect(told).toContain('Countersign: denied by bob@example.com: change freeze');
    expect(told).not.toContain('restarted payments');
  });

  test('still pending after the wait: the run pauses, and resumes with the decision', async () => {
    const model = new MockLanguageModelV4({ doGenerate: [callRestart('tc_3'), say('Restarted after approval.')] });
    const paused = await recipes.vercel.runOps(model, ask, 1_000);
    expect(paused.content.some((p) => p.type === 'tool-approval-request')).toBe(true);
    expect(model.doGenerateCalls).toHaveLength(1);
    const pending = await newestRequest(t, 'service.restart');
    await vote(t, pending.id, 'alice@example.com', 'approve');
    const resumed = await recipes.vercel.resume(model, ask, paused);
    expect(resumed.text).toBe('Restarted after approval.');
    expect(JSON.stringify(model.doGenerateCalls[1].prompt)).toContain('restarted payments');
  });
});
