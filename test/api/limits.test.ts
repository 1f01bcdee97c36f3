/**
 * Issue 8, reproduction 8: limits with clear answers. One key flooding intake, piling up pending cards, guessing keys
 * or holding thousands of long-polls gets 429 with Retry-After and a stable code; everybody else is unaffected; and a
 * waiting long-poll costs the database nothing.
 */
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let roomy: string;
let poller: string;
let waiter: string;
beforeAll(async () => {
  t = await startTestApp({
    env: { INTAKE_RATE_LIMIT_PER_MINUTE: '5', MAX_PENDING_PER_KEY: '20', LONG_POLLS_PER_KEY: '2', AUTH_FAILURES_PER_MINUTE: '5', API_KEY_CACHE_MS: '60000' },
  });
  const keys = t.app.services.apiKeys;
  roomy = (await keys.create({ name: 'roomy', scopes: ['submit', 'read'], owner: 'ops-lead@example.com', actor: 'test', limits: { ratePerMinute: 10_000 } })).secret;
  poller = (await keys.create({ name: 'poller', scopes: ['read', 'audit'], owner: null, actor: 'test', limits: { longPolls: 50 } })).secret;
  waiter = (await keys.create({ name: 'waiter', scopes: ['submit', 'read'], owner: 'ops-lead@example.com', actor: 'test', limits: { ratePerMinute: 10_000 } })).secret;
});
afterAll(async () => {
  await t?.close();
});

it('limits intakes per key per minute with 429, Retry-After and a stable code, and leaves other keys alone', async () => {
  const results = [];
  for (let i = 0; i < 8; i++) results.push(await t.submit(baseRequest({ action: 'table.read', environment: 'dev' })));
  expect(results.filter((r) => r.status === 202)).toHaveLength(5);
  const limited = results.filter((r) => r.status === 429);
  expect(limited).toHaveLength(3);
  expect(limited[0].body.error.code).toBe('rate_limited');
  expect(Number(limited[0].headers.get('retry-after'))).toBeGreaterThan(0);
  expect((await t.submit(baseRequest({ action: 'table.read', environment: 'dev' }), { key: roomy })).status).toBe(202);
});

it('holds a key to MAX_PENDING_PER_KEY exactly under concurrency, frees a slot when a request leaves pending, and still takes routine requests', async () => {
  const before = await t.db.approvalRequest.count({ where: { apiKeyName: 'roomy', status: 'pending' } });
  expect(before).toBe(0);
  const burst = await Promise.all(Array.from({ length: 50 }, () => t.submit(baseRequest({ action: 'service.restart' }), { key: roomy })));
  expect(burst.filter((r) => r.status === 202)).toHaveLength(20);
  const refused = burst.filter((r) => r.status === 429);
  expect(refused).toHaveLength(30);
  expect(refused[0].body.error.code).toBe('too_many_pending');
  expect(refused[0].headers.get('retry-after')).toBe('30');
  expect(await t.db.approvalRequest.count({ where: { apiKeyName: 'roomy', status: 'pending' } })).toBe(20);
  // Routine requests never wait for anyone, so they are not held back.
  expect((await t.submit(baseRequest({ action: 'table.read', environment: 'dev' }), { key: roomy })).status).toBe(202);
  // Deciding one frees its slot.
  const one = burst.find((r) => r.status === 202)!;
  expect((await t.call('POST', `/v1/requests/${one.body.id}/cancel`, { key: roomy, body: {} })).status).toBe(200);
  expect((await t.submit(baseRequest({ action: 'service.restart' }), { key: roomy })).status).toBe(202);
  expect((await t.submit(baseRequest({ action: 'service.restart' }), { key: roomy })).status).toBe(429);
});

it('caps concurrent long-polls per key with 429, and frees the slot when a wait ends', async () => {
  const { body } = await t.submit(baseRequest({ action: 'service.restart' }), { key: waiter });
  const first = t.call('GET', `/v1/requests/${body.id}?wait=2`, { key: waiter });
  const second = t.call('GET', `/v1/requests/${body.id}?wait=2`, { key: waiter });
  await new Promise((r) => setTimeout(r, 300));
  const third = await t.call('GET', `/v1/requests/${body.id}?wait=2`, { key: waiter });
  expect(third.status).toBe(429);
  expect(third.body.error.code).toBe('too_many_long_polls');
  expect((await first).status).toBe(200);
  expect((await second).status).toBe(200);
  expect((await t.call('GET', `/v1/requests/${body.id}?wait=1`, { key: waiter })).status).toBe(200);
});

it('keeps waiting long-polls off the database until the request changes, then answers them all', async () => {
  const { body } = await t.submit(baseRequest({ action: 'service.restart' }), { key: waiter });
  const store = t.app.store.requests;
  const realGet = store.get.bind(store);
  let reads = 0;
  store.get = async (id) => {
    reads++;
    return realGet(id);
  };
  try {
    const waits = Array.from({ length: 20 }, () => t.call('GET', `/v1/requests/${body.id}?wait=20`, { key: poller }));
    // Each long-poll reads the request once as it starts watching.
    await t.waitFor(async () => reads >= 20, 5000, 'the first read of every long-poll');
    const afterFirstReads = reads;
    await new Promise((r) => setTimeout(r, 1500));
    expect(reads).toBe(afterFirstReads);
    const vote = await t.call('POST', `/v1/requests/${body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
    expect(vote.status).toBe(201);
    const answers = await Promise.all(waits);
    expect(answers.every((a) => a.status === 200 && a.body.status === 'approved')).toBe(true);
    // None in between; when the change arrived, the waiters it woke shared one fresh read.
    expect(reads - afterFirstReads).toBe(1);
  } finally {
    store.get = realGet;
  }
});

// Last: it leaves this address throttled for a minute, and keys this node has not seen yet are refused meanwhile.
it('throttles repeated authentication failures from one address, while a key it already knows keeps working', async () => {
  // A valid key seen moments ago is recognised without a look-up, so the throttle does not lock its owner out.
  expect((await t.call('GET', '/v1/requests?limit=1', { key: t.keys.reader })).status).toBe(200);
  const statuses: number[] = [];
  let last;
  for (let i = 0; i < 8; i++) {
    last = await t.call('GET', '/v1/requests', { key: `guess-${i}-0123456789abcdef` });
    statuses.push(last.status);
  }
  expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
  expect(statuses.slice(5)).toEqual([429, 429, 429]);
  expect(last!.body.error.code).toBe('too_many_auth_failures');
  expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
  expect((await t.call('GET', '/v1/requests?limit=1', { key: t.keys.reader })).status).toBe(200);
});
