/** Bad input is refused with a stable code naming the field, and nothing is written. */
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

async function counts() {
  const [r] = await t.db.$queryRawUnsafe<{ requests: number; events: number }[]>(
    `SELECT (SELECT count(*) FROM approval_request)::int AS requests,
       (SELECT count(*) FROM audit_event WHERE type NOT LIKE 'delivery.%')::int AS events`,
  );
  return r;
}

describe('refused input writes nothing', () => {
  it.each([
    ['missing action', { ...baseRequest(), action: undefined }, 400, 'validation_failed', 'action'],
    ['bad requester type', baseRequest({ requester: { id: 'x', type: 'robot' } }), 400, 'validation_failed', 'requester.type'],
    ['bad onBehalfOf email', baseRequest({ onBehalfOf: { email: 'not-an-email' } }), 400, 'validation_failed', 'onBehalfOf.email'],
    ['nested context value', baseRequest({ context: { nested: { a: 1 } } }), 400, 'validation_failed', 'context.nested'],
    ['unknown field', baseRequest({ approveMyself: true }), 400, 'validation_failed', ''],
    ['bad risk', baseRequest({ risk: 'extreme' }), 400, 'validation_failed', 'risk'],
    ['callback to a private address', baseRequest({ callbackUrl: 'https://10.1.2.3/cb' }), 400, 'callback_host_refused', 'callbackUrl'],
    ['too long expiry', baseRequest({ expiresInSeconds: 10 * 365 * 86400 }), 400, 'validation_failed', 'expiresInSeconds'],
  ])('%s', async (_name, body, status, code, field) => {
    const before = await counts();
    const res = await t.submit(body);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    if (field) {
      expect(res.body.error.field).toBe(field);
      expect(res.body.error.message).toContain(field);
    }
    expect(await counts()).toEqual(before);
  });

  it('malformed JSON is 400 invalid_json', async () => {
    const before = await counts();
    const res = await t.call('POST', '/v1/requests', { key: t.keys.agent, raw: '{"action": "x",' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
    expect(await counts()).toEqual(before);
  });

  it('a body over the limit is 413', async () => {
    const before = await counts();
    const res = await t.submit(baseRequest({ justification: 'x'.repeat(70 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect(await counts()).toEqual(before);
  });

  it.each([
    ['absent', ''],
    ['unknown', 'wrong-secret-0123456789'],
  ])('an %s key is 401', async (_n, key) => {
    const before = await counts();
    const res = await t.call('POST', '/v1/requests', { key, body: baseRequest() });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(await counts()).toEqual(before);
  });

  it('a key without the scope is 403', async () => {
    const before = await counts();
    const res = await t.submit(baseRequest(), { key: t.keys.reader });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect(res.body.error.message).toContain('submit');
    expect(await counts()).toEqual(before);
  });

  it('a revoked key is 401', async () => {
    const { secret } = await t.app.services.apiKeys.create({ name: 'short-lived', scopes: ['submit', 'read'], owner: 'ops-lead@example.com', actor: 'test' });
    expect((await t.submit(baseRequest(), { key: secret })).status).toBe(202);
    expect(await t.app.services.apiKeys.revoke('short-lived', 'test')).toBe(true);
    const res = await t.submit(baseRequest(), { key: secret });
    expect(res.status).toBe(401);
    const events = (await t.call('GET', '/v1/audit?type=api_key.revoked')).body.items;
    expect(events[0].data).toEqual({ name: 'short-lived' });
  });
});

describe('idempotency', () => {
  it('returns the original answer for the same key and body, and 409 for a different body', async () => {
    const key = `idem-${Date.now()}`;
    const first = await t.submit(baseRequest(), { headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    const before = await counts();
    const again = await t.submit(baseRequest(), { headers: { 'idempotency-key': key } });
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const different = await t.submit(baseRequest({ resource: 'warehouse://prod/orders' }), { headers: { 'idempotency-key': key } });
    expect(different.status).toBe(409);
    expect(different.body.error.code).toBe('idempotency_conflict');
    expect(await counts()).toEqual(before);
    // The same key from another client is a different request.
    const otherClient = await t.submit(baseRequest(), { key: t.keys.agent2, headers: { 'idempotency-key': key } });
    expect(otherClient.body.id).not.toBe(first.body.id);
  });

  it('concurrent resubmits with one key create one request', async () => {
    const key = `idem-race-${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 10 }, () => t.submit(baseRequest(), { headers: { 'idempotency-key': key } })));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(await t.db.approvalRequest.count({ where: { idempotencyKey: key } })).toBe(1);
  });
});
