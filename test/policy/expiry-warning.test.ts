/**
 * `warnBeforeExpiry`: a pending request is warned once (`request.expiring`) before it expires; the timer is re-derived
 * from PostgreSQL by the reconciler when Redis lost it; a request decided before its warning is not warned; a rule
 * without the key arms nothing.
 */
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

const POLICY = `
version: 1
groups:
  approvers: [alice@example.com, bob@example.com]
rules:
  - name: warned
    match: { action: dataset.export }
    outcome: require
    approvers: [approvers]
    ttlSeconds: 60
    # Due 5 s after submission.
    warnBeforeExpiry: 55s
default:
  outcome: require
  approvers: [approvers]
  ttlSeconds: 60
`;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ policyYaml: POLICY });
});
afterAll(async () => {
  await t?.close();
});

const expiring = async (id: string) =>
  ((await t.call('GET', `/v1/audit?requestId=${id}&limit=200`)).body.items as { type: string; data: Record<string, unknown> }[]).filter((e) => e.type === 'request.expiring');

it('warns a pending request once, re-arms a lost timer from PostgreSQL, and leaves decided and unwarned rules alone', async () => {
  const [a, lost, decided, plain] = await Promise.all([
    t.submit(baseRequest()),
    t.submit(baseRequest({ resource: 'warehouse://prod/orders' })),
    t.submit(baseRequest({ resource: 'warehouse://prod/invoices' })),
    t.submit(baseRequest({ action: 'ticket.close' })),
  ]);
  for (const r of [a, lost, decided, plain]) expect(r.body.status).toBe('pending');
  expect(plain.body.rule).toBe('default');

  // Redis loses one timer before it fires.
  expect(await t.app.queues.timers.getJob(`warn.${lost.body.id}`)).toBeDefined();
  await t.app.queues.timers.remove(`warn.${lost.body.id}`);
  expect(await t.app.queues.timers.getJob(`warn.${lost.body.id}`)).toBeUndefined();
  // No timer for a rule without warnBeforeExpiry.
  expect(await t.app.queues.timers.getJob(`warn.${plain.body.id}`)).toBeUndefined();

  const vote = await t.call('POST', `/v1/requests/${decided.body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
  expect(vote.body.status).toBe('approved');

  const [event] = await t.waitFor(async () => {
    const events = await expiring(a.body.id);
    return events.length ? events : undefined;
  }, 20_000, 'request.expiring');
  expect(event.data).toMatchObject({ expiresAt: a.body.expiresAt });
  expect(event.data.secondsLeft).toBeGreaterThan(40);
  expect((await t.call('GET', `/v1/requests/${a.body.id}`)).body.status).toBe('pending');

  // The lost timer's request, due by now, has not been warned; the reconciler re-derives its timer from PostgreSQL.
  expect(await expiring(lost.body.id)).toHaveLength(0);
  await t.app.reconcile();
  await t.waitFor(async () => (await expiring(lost.body.id)).length === 1, 20_000, 'the re-armed warning');

  // Reconciling again, or the timer running again, records nothing new; decided and plain requests were never warned.
  await t.app.reconcile();
  await t.app.queues.timers.add('warn', { requestId: a.body.id }, { jobId: `warn-again.${a.body.id}` });
  await t.app.queues.timers.add('warn', { requestId: decided.body.id }, { jobId: `warn-again.${decided.body.id}` });
  await t.waitFor(async () => (await t.app.queues.timers.getJobState(`warn-again.${decided.body.id}`)) === 'completed', 10_000, 'the extra timer run');
  await t.waitFor(async () => (await t.app.queues.timers.getJobState(`warn-again.${a.body.id}`)) === 'completed', 10_000, 'the extra timer run');
  expect(await expiring(a.body.id)).toHaveLength(1);
  expect(await expiring(lost.body.id)).toHaveLength(1);
  expect(await expiring(decided.body.id)).toHaveLength(0);
  expect(await expiring(plain.body.id)).toHaveLength(0);
}, 60_000);
