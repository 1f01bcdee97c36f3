import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

it('round trip', async () => {
  const res = await t.submit(baseRequest());
  expect(res.status).toBe(202);
  expect(res.body.status).toBe('pending');
  const get = await t.call('GET', `/v1/requests/${res.body.id}`);
  expect(get.status).toBe(200);
  const v1 = await t.call('POST', `/v1/requests/${res.body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
  expect(v1.status).toBe(201);
  const v2 = await t.call('POST', `/v1/requests/${res.body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'bob@example.com' }, decision: 'approve' } });
  expect(v2.body.status).toBe('approved');
  const audit = await t.call('GET', `/v1/audit?requestId=${res.body.id}`);
  expect(audit.body.items.map((e: any) => e.type)).toEqual(expect.arrayContaining(['request.submitted', 'vote.cast', 'request.decided']));
  const verify = await t.call('GET', '/v1/audit/verify');
  expect(verify.body.ok).toBe(true);
  await t.waitFor(async () => (await t.call('GET', `/v1/requests/${res.body.id}`)).body.deliveries.length > 0, 5000, 'delivery');
});
