/** Postgres is the source of truth: flushing Redis or killing the service after the 202 loses nothing. */
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { baseRequest, deleteRedisKeys, startTestApp } from '../support/start-app';

let database: TestDatabase;
const prefix = `cs-test-dur-${randomBytes(4).toString('hex')}`;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await deleteRedisKeys('redis://127.0.0.1:6379', prefix);
  await database.drop();
});

it('re-derives deliveries and expiry timers from Postgres after Redis is flushed and the API node is gone', async () => {
  // An API-only node accepts the request; no worker runs, then it is killed and Redis loses everything.
  const api = await startTestApp({ env: { RUN_MODE: 'api' }, database, redisPrefix: prefix, keepDatabase: true });
  const { body } = await api.submit(baseRequest());
  expect(body.status).toBe('pending');
  const overdue = await api.submit(baseRequest({ action: 'service.restart' }));
  await api.close();
  await deleteRedisKeys('redis://127.0.0.1:6379', prefix);
  // The second request's expiry passes while nothing runs.
  const pg = new (await import('pg')).default.Client({ connectionString: database.url });
  await pg.connect();
  await pg.query(`UPDATE approval_request SET expires_at = now() - interval '1 second' WHERE id = $1`, [overdue.body.id]);
  await pg.end();

  // A worker node starts: its start-up reconciliation finds what is owed.
  const worker = await startTestApp({ env: { RUN_MODE: 'worker' }, database, redisPrefix: prefix, keepDatabase: true });
  try {
    const delivery = await worker.waitFor(() => worker.db.delivery.findFirst({ where: { requestId: body.id, kind: 'card' } }).then((d) => (d?.status === 'skipped' ? d : null)), 10_000, 'delivery');
    expect(delivery.target).toBe('slack:C0000DATA');
    const expiry = await worker.app.queues.timers.getJob(`expire.${body.id}`);
    expect(expiry).toBeTruthy();
    expect(await expiry!.isDelayed()).toBe(true);
    const expired = await worker.db.approvalRequest.findUnique({ where: { id: overdue.body.id } });
    expect(expired?.status).toBe('expired');
    const events = await worker.db.auditEvent.findMany({ where: { requestId: overdue.body.id, type: 'request.expired' } });
    expect(events).toHaveLength(1);
    // Reconciling again is harmless: no second delivery, no second expiry.
    await worker.app.reconcile();
    expect(await worker.db.delivery.count({ where: { requestId: body.id } })).toBe(1);
    expect(await worker.db.auditEvent.count({ where: { requestId: overdue.body.id, type: 'request.expired' } })).toBe(1);
  } finally {
    await worker.close();
  }
});

it('expires a request on its timer and refuses votes after expiry', async () => {
  const t = await startTestApp({ database, redisPrefix: prefix, keepDatabase: true });
  try {
    const { body } = await t.submit(baseRequest({ action: 'service.restart' }));
    // Bring the expiry forward and re-arm the timer as the reconciler would.
    await t.db.approvalRequest.update({ where: { id: body.id }, data: { expiresAt: new Date(Date.now() + 300) } });
    await (await t.app.queues.timers.getJob(`expire.${body.id}`))?.remove();
    await t.app.queues.jobs.requestOpened({ id: body.id, targets: [], expiresAt: new Date(Date.now() + 300) });
    // Wait for the timer's transition in the database (GET already reads an overdue request as expired).
    await t.waitFor(async () => (await t.db.approvalRequest.findUnique({ where: { id: body.id } }))?.status === 'expired', 10_000, 'expiry');
    expect(await t.db.auditEvent.count({ where: { requestId: body.id, type: 'request.expired' } })).toBe(1);
    const late = await t.call('POST', `/v1/requests/${body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'bob@example.com' }, decision: 'approve' } });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('expired');

    // A vote that arrives after expiresAt but before the timer fires is refused as expired, and expires the request.
    const second = await t.submit(baseRequest({ action: 'service.restart' }));
    await t.db.approvalRequest.update({ where: { id: second.body.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const refused = await t.call('POST', `/v1/requests/${second.body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'bob@example.com' }, decision: 'approve' } });
    expect(refused.body.error.code).toBe('expired');
    expect((await t.db.approvalRequest.findUnique({ where: { id: second.body.id } }))?.status).toBe('expired');
  } finally {
    await t.close();
  }
});
