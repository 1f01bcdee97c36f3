/**
 * The button-callback path under load (the bench's code, run briefly): 50 connections of signed block_actions are all
 * acknowledged, and the votes behind them still produce exactly one decision per request. Speed is not asserted here
 * (that is the bench's job: `npm run bench` measures the p99 target with the server in its own process); that acks do
 * not wait for the work behind them is shown deterministically in slack-approvals.test.ts.
 */
import { runSlackCallbackBench } from '../../bench/slack-callback-bench';
import { baseRequest } from '../support/start-app';
import { SIGNING_SECRET, startSlackTestApp, type SlackTestApp } from './slack-test-app';

let s: SlackTestApp;
beforeAll(async () => {
  s = await startSlackTestApp();
});
afterAll(async () => {
  await s?.close();
});

it('acknowledges signed block_actions at 50 connections and still decides each request once', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await s.submit(baseRequest({ action: `deploy.load-${i}` })));
  await Promise.all(ids.map((id) => s.card(id)));

  const r = await runSlackCallbackBench({ baseUrl: s.t.baseUrl, signingSecret: SIGNING_SECRET, requestIds: ids, durationSeconds: 20, amount: 600, responseUrl: s.slack.responseUrl() });
  expect(r.total).toBeGreaterThanOrEqual(600);
  expect(r.non2xx).toBe(0);
  expect(r.errors).toBe(0);

  for (const id of ids) {
    await s.t.waitFor(async () => (await s.request(id)).status === 'approved', 20_000, `decision of ${id}`);
    expect(await s.t.db.vote.count({ where: { requestId: id } })).toBe(1);
  }
}, 60_000);
