/** Postgres or Redis down: a quick 503, and nothing half-written. */
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';
import { startTcpProxy } from '../support/tcp-proxy';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

it('answers 503 at once while Redis is unreachable, and writes nothing', async () => {
  const before = await t.db.approvalRequest.count();
  // Cut the producer connection as an outage would (and keep it down until the assertions are done).
  const producer = (t.app.queues.delivery as unknown as { opts: { connection: import('ioredis').Redis } }).opts.connection;
  producer.disconnect(false);
  // The status changes when the socket has closed, not at the call: under load the request could otherwise pass first.
  await t.waitFor(async () => producer.status === 'end', 5_000, 'redis producer closed');
  const started = Date.now();
  const res = await t.submit(baseRequest());
  expect(res.status).toBe(503);
  expect(res.body.error.code).toBe('service_unavailable');
  expect(Date.now() - started).toBeLessThan(1000);
  expect(await t.db.approvalRequest.count()).toBe(before);
  await producer.connect();
  await t.waitFor(async () => producer.status === 'ready', 10_000, 'redis reconnect');
  expect((await t.submit(baseRequest())).status).toBe(202);
});

it('answers 503 quickly while Postgres is unreachable, and serves again when it is back', async () => {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
  const viaProxy = await startTestApp({
    env: { DATABASE_URL: t.database.appUrl.replace(':5432/', `:${proxy.port}/`), RUN_MODE: 'api' },
    database: t.database,
    keepDatabase: true,
  });
  try {
    expect((await viaProxy.submit(baseRequest())).status).toBe(202);
    const before = await t.db.approvalRequest.count();
    proxy.cut();
    const started = Date.now();
    const res = await viaProxy.submit(baseRequest());
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('service_unavailable');
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await viaProxy.call('GET', '/readyz', { key: '' })).status).toBe(503);
    proxy.restore();
    await viaProxy.waitFor(async () => (await viaProxy.submit(baseRequest())).status === 202, 10_000, 'recovery');
    expect(await t.db.approvalRequest.count()).toBe(before + 1);
  } finally {
    await viaProxy.close();
    await proxy.close();
  }
});
