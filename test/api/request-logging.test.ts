/**
 * What operators read in the log: request ids (the caller's, validated, or a new one) echoed on every answer, the API
 * key on every line of its requests, health probes only at debug, and the worker's retry warnings with the error's
 * message and stack.
 */
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

const lines: any[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});

let t: TestApp;
let receiver: Server;
let receiverUrl: string;
beforeAll(async () => {
  // A callback receiver that fails: the worker retries and says so.
  receiver = createServer((_req, res) => res.writeHead(500).end('down'));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  t = await startTestApp({ log: createLogger('debug', sink), env: { CALLBACK_SIGNING_SECRET: 'a-callback-secret-0123456789', CALLBACK_ALLOWED_HOSTS: '127.0.0.1' } });
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => receiver?.close(r));
});

const of = (requestId: string) => lines.filter((l) => l.requestId === requestId);

describe('x-request-id', () => {
  it('echoes a valid id and logs under it', async () => {
    const res = await t.call('GET', '/v1/requests', { key: t.keys.agent, headers: { 'x-request-id': 'trace-abc.123:xyz' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('trace-abc.123:xyz');
    expect(of('trace-abc.123:xyz').map((l) => l.msg)).toEqual(expect.arrayContaining(['incoming request', 'request completed']));
  });

  it.each([['with spaces and "quotes"'], ['x'.repeat(129)], ['new\\nline']])('replaces an unfit id (%s) with a new one, and echoes that', async (given) => {
    const res = await t.call('GET', '/healthz', { key: '', headers: { 'x-request-id': given } });
    const echoed = res.headers.get('x-request-id');
    expect(echoed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(lines.some((l) => l.requestId === given)).toBe(false);
  });

  it('generates one when none is given, on errors too', async () => {
    const res = await t.call('GET', '/v1/nowhere', { key: t.keys.agent });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

it('names the API key on every line of its requests, never the secret', async () => {
  await t.call('GET', '/v1/requests', { key: t.keys.reader, headers: { 'x-request-id': 'who-asked' } });
  const completed = of('who-asked').find((l) => l.msg === 'request completed');
  expect(completed).toMatchObject({ apiKey: 'reader', res: { statusCode: 200 } });
  expect(JSON.stringify(of('who-asked'))).not.toContain(t.keys.reader);
});

it('logs health probes at debug, API calls at info', async () => {
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    await t.call('GET', path, { key: '', headers: { 'x-request-id': `probe${path.replace('/', '-')}` } });
    const probeLines = of(`probe${path.replace('/', '-')}`);
    expect(probeLines.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
    expect(probeLines.every((l) => l.level === 20)).toBe(true);
  }
  await t.call('GET', '/v1/requests', { key: t.keys.agent, headers: { 'x-request-id': 'api-call' } });
  expect(of('api-call').map((l) => l.level)).toEqual([30, 30]);
});

it("logs the worker's retry warning with the error's message and stack", async () => {
  const submitted = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', callbackUrl: `${receiverUrl}/hook` }));
  expect(submitted.status).toBe(202);
  const warning = await t.waitFor(async () => lines.find((l) => l.msg === 'job failed; will retry' && l.job === 'callback'), 10_000, 'retry warning');
  expect(warning.level).toBe(40);
  expect(warning.err.type).not.toBe('Object');
  expect(warning.err.message).toMatch(/500/);
  expect(warning.err.stack).toContain(warning.err.message);
});
