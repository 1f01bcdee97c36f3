/** The result callback, an outbound channel of its own: signed, retried on transient failures, recorded either way. */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

const SECRET = 'callback-secret-0123456789abcdef';
let t: TestApp;
let receiver: Server;
let receiverUrl: string;
const received: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];
/** Status codes the receiver answers with, per path, in order; 200 once exhausted. */
const script = new Map<string, number[]>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      const status = script.get(req.url ?? '')?.shift() ?? 200;
      res.writeHead(status, status === 503 ? { 'retry-after': '0' } : {}).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  // The receiver is on loopback, which callbacks may only reach when an operator lists the host.
  t = await startTestApp({ env: { CALLBACK_SIGNING_SECRET: SECRET, CALLBACK_ALLOWED_HOSTS: '127.0.0.1' } });
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => receiver?.close(r));
});

async function deliveries(id: string) {
  return (await t.call('GET', `/v1/requests/${id}`)).body.deliveries.filter((d: { kind: string }) => d.kind === 'callback');
}

it('POSTs the decision once, signed so the receiver can verify it', async () => {
  const { body } = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', callbackUrl: `${receiverUrl}/ok` }));
  expect(body.status).toBe('approved');
  const [d] = await t.waitFor(async () => (await deliveries(body.id)).filter((x: { status: string }) => x.status === 'delivered').length && deliveries(body.id), 10_000, 'callback');
  expect(d).toMatchObject({ status: 'delivered', attempts: 1 });
  const hits = received.filter((r) => r.path === '/ok');
  expect(hits).toHaveLength(1);
  const [, ts, sig] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hits[0].headers['countersign-signature']))!;
  expect(sig).toBe(createHmac('sha256', SECRET).update(`${ts}.${hits[0].body}`).digest('hex'));
  expect(JSON.parse(hits[0].body)).toMatchObject({ event: 'request.decided', request: { id: body.id, status: 'approved', policy: { rule: 'routine-reads' } } });
  expect(hits[0].headers['countersign-request-id']).toBe(body.id);
});

it('retries a 503 and delivers', async () => {
  script.set('/flaky', [503, 503]);
  const { body } = await t.submit(baseRequest({ action: 'bucket.delete', callbackUrl: `${receiverUrl}/flaky` }));
  expect(body.status).toBe('denied');
  const [d] = await t.waitFor(async () => (await deliveries(body.id)).filter((x: { status: string }) => x.status === 'delivered').length && deliveries(body.id), 10_000, 'callback');
  expect(d.attempts).toBe(3);
  expect(received.filter((r) => r.path === '/flaky')).toHaveLength(3);
});

it('records a 404 as a permanent failure after one attempt', async () => {
  script.set('/gone', [404]);
  const { body } = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', callbackUrl: `${receiverUrl}/gone` }));
  const [d] = await t.waitFor(async () => (await deliveries(body.id)).filter((x: { status: string }) => x.status === 'failed').length && deliveries(body.id), 10_000, 'failed callback');
  // The agent learns that its callback failed, not what answered at the URL it chose; the detail is the auditor's.
  expect(d).toMatchObject({ attempts: 1, lastError: 'callback failed (details in the audit trail)' });
  const events = (await t.call('GET', `/v1/audit?requestId=${body.id}&type=delivery.failed`)).body.items;
  expect(events[0].data).toMatchObject({ kind: 'callback', permanent: true, error: 'http_404: callback answered HTTP 404' });
});
