/**
 * Teams offers bots no look-up of the messages they posted, so a card whose reference was lost to a database outage
 * (posted, answered, but the delivery row could not be settled) is adopted from the memo taken when Teams answered,
 * rather than posted a second time; and it is that card the decision updates.
 */
import { jobIds } from '../../src/queue/queues';
import { CHANNEL_ID } from '../fakes/teams-activities';
import { baseRequest } from '../support/start-app';
import { startTcpProxy } from '../support/tcp-proxy';
import { createTestDatabase } from '../support/test-database';
import { startTeamsTestApp, type TeamsTestApp } from './teams-test-app';

let h: TeamsTestApp;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
beforeAll(async () => {
  const database = await createTestDatabase();
  // The app reaches PostgreSQL through a proxy the test can cut; the test itself reads through the owner's URL.
  proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
  h = await startTeamsTestApp({ database, env: { DATABASE_URL: database.appUrl.replace(':5432/', `:${proxy.port}/`) } });
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

it('a database outage between Teams answering and the row being settled: the re-driven job adopts the card, and the decision updates it', async () => {
  const target = `teams:${CHANNEL_ID}`;
  const cardsOf = (id: string) => h.fake.activitiesIn(CHANNEL_ID).filter((a) => JSON.stringify(a.versions[0]).includes(id));
  // Teams posts the card at once but answers late; the database goes away in the meantime.
  h.fake.answerLateNext('send', 1_500);
  const id = (await h.t.submit(baseRequest({ action: 'deploy.release' }))).body.id as string;
  await h.fake.waitForCall((c) => c.operation === 'send' && c.status === 201 && JSON.stringify(c.body).includes(id), 10_000);
  proxy.cut();
  try {
    await h.t.waitFor(async () => (await (await h.t.app.queues.delivery.getJob(jobIds.post(id, target)))?.getState()) === 'failed', 15_000, 'post job failed');
  } finally {
    proxy.restore();
  }
  expect(cardsOf(id)).toHaveLength(1);

  const report = await h.t.app.reconcile();
  expect(report.redriven).toBeGreaterThanOrEqual(1);
  const row = await h.t.waitFor(async () => {
    const d = await h.t.db.delivery.findFirst({ where: { requestId: id, kind: 'card' } });
    return d?.status === 'delivered' ? d : null;
  }, 15_000, 'card row delivered');
  expect(cardsOf(id)).toHaveLength(1);
  expect((row.messageRef as any).ref.activityId).toBe(cardsOf(id)[0].id);
  expect(h.fake.callsOf('send').filter((c) => JSON.stringify(c.body).includes(id) && c.conversationId === CHANNEL_ID)).toHaveLength(1);

  const vote = await h.t.call('POST', `/v1/requests/${id}/decisions`, { key: h.t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
  expect(vote.status).toBe(201);
  await h.t.waitFor(async () => JSON.stringify(cardsOf(id)[0].current).includes('Approved'), 15_000, 'the adopted card updated to its outcome');
  expect(cardsOf(id)).toHaveLength(1);
});
