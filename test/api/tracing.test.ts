/**
 * OpenTelemetry: intake continues the agent's W3C trace, and the request's deliveries, votes and callback are spans
 * of the same trace, children of the intake span (its context is stored with the request), read back through an
 * in-memory exporter given to the composition root.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

const exporter = new InMemorySpanExporter();
const callbacks: { requestId: string; traceparent?: string }[] = [];
let t: TestApp;
let receiver: Server;
let receiverUrl: string;
beforeAll(async () => {
  receiver = createServer((req, res) => {
    callbacks.push({ requestId: String(req.headers['countersign-request-id']), traceparent: req.headers.traceparent as string | undefined });
    res.writeHead(200).end();
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  t = await startTestApp({ appOptions: { spanExporter: exporter }, env: { CALLBACK_SIGNING_SECRET: 'a-callback-secret-0123456789', CALLBACK_ALLOWED_HOSTS: '127.0.0.1' } });
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => receiver?.close(r));
});

const AGENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const AGENT_SPAN = '00f067aa0ba902b7';

async function spans(): Promise<ReadableSpan[]> {
  await t.app.tracing.flush();
  return exporter.getFinishedSpans();
}
const inTrace = (all: ReadableSpan[], traceId: string) => all.filter((s) => s.spanContext().traceId === traceId);

it("continues the agent's trace from intake through delivery, vote and callback", async () => {
  const res = await t.submit(baseRequest({ callbackUrl: `${receiverUrl}/hook` }), { headers: { traceparent: `00-${AGENT_TRACE}-${AGENT_SPAN}-01` } });
  expect(res.status).toBe(202);
  const id = res.body.id;

  const all = await t.waitFor(async () => {
    const s = await spans();
    return s.some((x) => x.name === 'countersign.delivery.card' && x.attributes['countersign.request_id'] === id) ? s : undefined;
  }, 10_000, 'card delivery span');
  const intake = inTrace(all, AGENT_TRACE).find((s) => s.name === 'countersign.intake')!;
  expect(intake).toBeDefined();
  expect(intake.parentSpanContext?.spanId).toBe(AGENT_SPAN);
  expect(intake.attributes).toMatchObject({ 'countersign.request_id': id, 'countersign.action': 'dataset.export', 'countersign.status': 'pending' });
  const intakeSpan = intake.spanContext().spanId;
  // What is stored is the intake span's own context, never the agent's header.
  expect((await t.db.approvalRequest.findUnique({ where: { id }, select: { traceParent: true } }))?.traceParent).toBe(`00-${AGENT_TRACE}-${intakeSpan}-01`);

  const card = inTrace(all, AGENT_TRACE).find((s) => s.name === 'countersign.delivery.card')!;
  expect(card.parentSpanContext?.spanId).toBe(intakeSpan);
  expect(card.attributes['countersign.target']).toBe('slack:C0000DATA');

  // Two approvals (two-person rule), each a span; the second decides, and the callback follows.
  for (const email of ['alice@example.com', 'bob@example.com']) {
    const v = await t.call('POST', `/v1/requests/${id}/decisions`, { key: t.keys.approver, body: { approver: { email }, decision: 'approve' } });
    expect(v.status).toBe(201);
  }
  const after = await t.waitFor(async () => {
    const s = inTrace(await spans(), AGENT_TRACE);
    return s.some((x) => x.name === 'countersign.callback') ? s : undefined;
  }, 10_000, 'callback span');
  const votes = after.filter((s) => s.name === 'countersign.vote');
  expect(votes).toHaveLength(2);
  for (const v of votes) {
    expect(v.parentSpanContext?.spanId).toBe(intakeSpan);
    expect(v.attributes).toMatchObject({ 'countersign.request_id': id, 'countersign.channel': 'api' });
  }
  const callback = after.find((s) => s.name === 'countersign.callback')!;
  expect(callback.parentSpanContext?.spanId).toBe(intakeSpan);
  // The receiver may continue the trace: the callback carries the callback span's context.
  expect(callbacks.find((c) => c.requestId === id)?.traceparent).toBe(`00-${AGENT_TRACE}-${callback.spanContext().spanId}-01`);
  expect(callback.resource.attributes['service.name']).toBe('countersign');
});

it('starts a new trace without (or with a malformed) traceparent, and still ties the request together', async () => {
  for (const headers of [{}, { traceparent: 'not-a-trace-context' }] as Record<string, string>[]) {
    const res = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', callbackUrl: `${receiverUrl}/hook` }), { headers });
    const id = res.body.id;
    const all = await t.waitFor(async () => {
      const s = await spans();
      return s.some((x) => x.name === 'countersign.callback' && x.attributes['countersign.request_id'] === id) ? s : undefined;
    }, 10_000, 'callback span');
    const intake = all.find((s) => s.name === 'countersign.intake' && s.attributes['countersign.request_id'] === id)!;
    expect(intake.parentSpanContext).toBeUndefined();
    const callback = all.find((s) => s.name === 'countersign.callback' && s.attributes['countersign.request_id'] === id)!;
    expect(callback.spanContext().traceId).toBe(intake.spanContext().traceId);
    expect(callback.parentSpanContext?.spanId).toBe(intake.spanContext().spanId);
  }
});

it('exports over OTLP/HTTP to the configured endpoint', async () => {
  const received: { url?: string; contentType?: string; body: string }[] = [];
  const collector = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString())).on('end', () => {
      received.push({ url: req.url, contentType: req.headers['content-type'], body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(collector.address() as { port: number }).port}`;
  try {
    // In a child process under tsx, as the service runs: the OTLP exporter loads its transport with a dynamic import,
    // which Jest's CommonJS runtime cannot do.
    const code = `
      const { createTracing } = require('./src/observability/tracing');
      const tracing = createTracing({ serviceName: 'countersign-test', endpoint: ${JSON.stringify(endpoint)} });
      tracing.inSpan('countersign.intake', { traceParent: '00-${AGENT_TRACE}-${AGENT_SPAN}-01' }, async () => undefined)
        .then(() => tracing.flush()).then(() => tracing.shutdown()).then(() => console.log('flushed'));`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(path.resolve(__dirname, '../../node_modules/.bin/tsx'), ['--eval', code], { cwd: path.resolve(__dirname, '../..') }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
    );
    expect(out).toContain('flushed');
    expect(received.length).toBeGreaterThan(0);
    expect(received[0]).toMatchObject({ url: '/v1/traces', contentType: 'application/json' });
    const [resourceSpans] = JSON.parse(received[0].body).resourceSpans;
    expect(resourceSpans.resource.attributes).toEqual(expect.arrayContaining([{ key: 'service.name', value: { stringValue: 'countersign-test' } }]));
    const [span] = resourceSpans.scopeSpans[0].spans;
    expect(span).toMatchObject({ name: 'countersign.intake', traceId: AGENT_TRACE, parentSpanId: AGENT_SPAN });
  } finally {
    await new Promise((r) => collector.close(r));
  }
}, 30_000);

it('stores no trace context when tracing is off, whatever the agent sends', async () => {
  const untraced = await startTestApp({ env: { RUN_MODE: 'api' }, database: t.database, keepDatabase: true });
  try {
    const res = await untraced.submit(baseRequest({ action: 'deploy.untraced' }), { headers: { traceparent: `00-${AGENT_TRACE}-${AGENT_SPAN}-01` } });
    expect(res.status).toBe(202);
    expect(untraced.app.tracing.enabled).toBe(false);
    expect((await t.db.approvalRequest.findUnique({ where: { id: res.body.id }, select: { traceParent: true } }))?.traceParent).toBeNull();
  } finally {
    await untraced.close();
  }
});
