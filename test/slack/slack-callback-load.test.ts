/**
 * The button-callback path under load (the bench's code, run briefly): 50 connections of signed block_actions are all
 * acknowledged, fast, and the votes behind them still produce exactly one decision per request. The latency bound
 * here is loose on purpose (shared test machines); `npm run bench` reports the real p99 against its 50 ms target.
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

  const r = await runSlackCallbackBench({ baseUrl: s.t.baseUrl, signingSecret: SIGNING_SECRET, requestIds: ids, durationSeconds: 2, responseUrl: s.slack.responseUrl() });
  console.log(`slack block_actions: ${r.rps.toFixed(0)} req/s, ack p50 ${r.p50} ms, p99 ${r.p99} ms over ${r.total} requests`);
  expect(r.total).toBeGreaterThan(100);
  expect(r.non2xx).toBe(0);
  expect(r.errors).toBe(0);
  expect(r.p99).toBeLessThan(250);

  for (const id of ids) {
    await s.t.waitFor(async () => (await s.request(id)).status === 'approved', 20_000, `decision of ${id}`);
    expect(await s.t.db.vote.count({ where: { requestId: id } })).toBe(1);
  }
}, 60_000);
