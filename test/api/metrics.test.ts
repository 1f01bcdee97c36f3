/**
 * Prometheus metrics through GET /metrics: one `countersign_` prefix (the runtime's own metrics under their standard
 * names), deliveries and callbacks by outcome, pending requests, time to decision and seal lag.
 */
import { createServer, type Server } from 'node:http';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let receiver: Server;
let receiverUrl: string;
beforeAll(async () => {
  // /ok takes the callback, /gone refuses it for good (404), /flaky fails once (500, retried) and then takes it.
  let flaky = 0;
  receiver = createServer((req, res) => res.writeHead(req.url === '/ok' ? 200 : req.url === '/gone' ? 404 : flaky++ === 0 ? 500 : 200).end());
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  t = await startTestApp({ env: { CALLBACK_SIGNING_SECRET: 'a-callback-secret-0123456789', CALLBACK_ALLOWED_HOSTS: '127.0.0.1', DELIVERY_ATTEMPTS: '2', AUDIT_SEAL_INTERVAL_MS: '60000' } });
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => receiver?.close(r));
});

async function scrape(): Promise<string> {
  const res = await t.call('GET', '/metrics', { key: '' });
  expect(res.status).toBe(200);
  return res.body as string;
}

/** The value of one sample, e.g. `countersign_callbacks_total{outcome="delivered"}`; undefined when absent. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

const vote = (id: string, decision: 'approve' | 'deny') =>
  t.call('POST', `/v1/requests/${id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision } });

it('names every metric with one prefix, and the runtime metrics by their standard names', async () => {
  const names = [...(await scrape()).matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
  expect(names).toEqual(expect.arrayContaining(['process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds', 'countersign_intake_total', 'countersign_requests_pending']));
  expect(names.filter((n) => /countersign_.*countersign_|process_process|^countersign_process_|^countersign_nodejs_/.test(n))).toEqual([]);
  expect(names.filter((n) => !/^(countersign_|process_|nodejs_)/.test(n))).toEqual([]);
});

it('counts pending requests from PostgreSQL and times decisions', async () => {
  const before = sample(await scrape(), 'countersign_requests_pending') ?? 0;
  const a = await t.submit(baseRequest({ action: 'deploy.metrics-a' }));
  const b = await t.submit(baseRequest({ action: 'deploy.metrics-b' }));
  expect(sample(await scrape(), 'countersign_requests_pending')).toBe(before + 2);

  expect((await vote(a.body.id, 'approve')).status).toBe(201);
  expect((await vote(b.body.id, 'deny')).status).toBe(201);
  const text = await scrape();
  expect(sample(text, 'countersign_requests_pending')).toBe(before);
  expect(sample(text, 'countersign_decision_seconds_count{status="approved"}')).toBe(1);
  expect(sample(text, 'countersign_decision_seconds_count{status="denied"}')).toBe(1);
  expect(sample(text, 'countersign_decision_seconds_bucket{le="+Inf",status="approved"}')).toBe(1);
  expect(sample(text, 'countersign_decision_seconds_sum{status="approved"}')).toBeGreaterThan(0);
});

it('counts callbacks and deliveries by outcome', async () => {
  const ok = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', callbackUrl: `${receiverUrl}/ok` }));
  const gone = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', callbackUrl: `${receiverUrl}/gone` }));
  const flaky = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', callbackUrl: `${receiverUrl}/flaky` }));
  // dataset.export posts a card to Slack, which this server does not run: the delivery is skipped.
  const carded = await t.submit(baseRequest());
  expect([ok.status, gone.status, flaky.status, carded.status]).toEqual([202, 202, 202, 202]);
  const text = await t.waitFor(async () => {
    const m = await scrape();
    return sample(m, 'countersign_callbacks_total{outcome="failed"}') === 1 && sample(m, 'countersign_callbacks_total{outcome="delivered"}') === 2
      && sample(m, 'countersign_deliveries_total{kind="card",channel="slack",outcome="skipped"}') ? m : undefined;
  }, 15_000, 'callback and delivery outcomes');
  // A 404 is permanent (failed at once); a 500 is retried, and the retry delivered it.
  expect(sample(text, 'countersign_callbacks_total{outcome="retry"}')).toBe(1);
});

it('reports how far sealing lags the audit trail', async () => {
  await t.app.evidence.sealer.sealNow();
  // Below a second: background deliveries of earlier tests may append an event right after the seal.
  expect(sample(await scrape(), 'countersign_audit_seal_lag_seconds')).toBeLessThan(1);
  await t.submit(baseRequest({ action: 'deploy.unsealed' }));
  await new Promise((r) => setTimeout(r, 1100));
  expect(sample(await scrape(), 'countersign_audit_seal_lag_seconds')).toBeGreaterThanOrEqual(1);
  await t.app.evidence.sealer.sealNow();
  expect(sample(await scrape(), 'countersign_audit_seal_lag_seconds')).toBeLessThan(1);
});
