/**
 * Deliveries converge: whatever PostgreSQL says is owed is paid in the end, and at most one card is posted per target.
 * Each case reproduces a fault seen against a build without the reconciler's re-drive or the card look-up: a database
 * outage while a card was being posted, throttling that outlasts a job's retry budget (for a card, then for its final
 * update), and Slack answering after the client gave up (the card was posted, the answer lost).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jobIds } from '../../src/queue/queues';
import { createTestDatabase } from '../support/test-database';
import { startTcpProxy } from '../support/tcp-proxy';
import { baseRequest } from '../support/start-app';
import { DATA_CHANNEL, startSlackTestApp, type SlackTestApp } from './slack-test-app';

/** Slack's client timeout in this file: short, so an answer 1.5 s late counts as lost. */
const SLACK_TIMEOUT_MS = 500;

let s: SlackTestApp;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
/** The agents' callback receiver: answers 503 to the first `failing` calls. */
let receiver: Server;
let receiverUrl: string;
let failing = 0;
const received: string[] = [];
beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(String(req.headers['countersign-request-id']));
      res.writeHead(failing-- > 0 ? 503 : 200, { 'retry-after': '0' }).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;
  const database = await createTestDatabase();
  // The app reaches PostgreSQL through a proxy the test can cut, as an outage would.
  proxy = await startTcpProxy({ host: '127.0.0.1', port: 5432 });
  s = await startSlackTestApp({
    database,
    env: { DATABASE_URL: database.appUrl.replace(':5432/', `:${proxy.port}/`), SLACK_TIMEOUT_MS: String(SLACK_TIMEOUT_MS), CALLBACK_ALLOWED_HOSTS: '127.0.0.1' },
  });
});
afterAll(async () => {
  await s?.close();
  await proxy?.close();
  await new Promise((r) => receiver?.close(r));
});

const hasButtons = (blocks: any[] | undefined) => (blocks ?? []).some((b) => b.type === 'actions');
/** Every card of a request in the channel (a duplicate would show here). */
const cardsOf = (id: string) => s.slack.messagesIn(DATA_CHANNEL).filter((m) => JSON.stringify(m.history[0].blocks ?? []).includes(id));
const cardRow = (id: string) =>
  s.t.db.delivery.findFirst({ where: { requestId: id, kind: 'card', target: `slack:${DATA_CHANNEL}` } });
const approve = (id: string) =>
  s.t.call('POST', `/v1/requests/${id}/decisions`, { key: s.t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
/** Waits until BullMQ gave up on a job: the state in which, before the re-drive, a debt was never paid again. */
async function jobFailed(jobId: string, queue: 'delivery' = 'delivery') {
  await s.t.waitFor(async () => (await (await s.t.app.queues[queue].getJob(jobId))?.getState()) === 'failed', 15_000, `job ${jobId} failed`);
}

it('a database outage while the card is posted: the reconciler re-drives the failed job, finds the posted card, and the approval updates it', async () => {
  // Slack posts at once but answers late, and the database goes away while the answer is awaited: the reference
  // cannot be stored, and every later attempt fails at the database until the job runs out of attempts.
  s.slack.answerLate('chat.postMessage', 1_200);
  const id = await s.submit(baseRequest({ action: 'deploy.release' }));
  await s.t.waitFor(async () => cardsOf(id).length === 1, 10_000, 'card posted');
  proxy.cut();
  try {
    await jobFailed(jobIds.post(id, `slack:${DATA_CHANNEL}`));
  } finally {
    proxy.restore();
    s.slack.answerLate('chat.postMessage', 0);
  }
  expect((await cardRow(id))?.status).toBe('pending');

  const report = await s.t.app.reconcile();
  expect(report.redriven).toBeGreaterThanOrEqual(1);
  const row = await s.t.waitFor(async () => ((await cardRow(id))?.status === 'delivered' ? cardRow(id) : null), 15_000, 'card row delivered');
  // The card the first attempt posted was found by its metadata and adopted: never posted twice.
  expect(cardsOf(id)).toHaveLength(1);
  expect((row!.messageRef as any).ref).toEqual({ channel: DATA_CHANNEL, ts: cardsOf(id)[0].ts });
  const delivered = (await s.audit(id)).filter((e) => e.type === 'delivery.delivered' && e.data.kind === 'card');
  expect(delivered).toHaveLength(1);
  expect(delivered[0].data.recovered).toEqual(expect.any(String));

  expect((await approve(id)).status).toBe(201);
  await s.t.waitFor(async () => !hasButtons(cardsOf(id)[0].blocks), 15_000, 'final card without buttons');
  expect(cardsOf(id)).toHaveLength(1);
  expect(JSON.stringify(cardsOf(id)[0].blocks)).toContain('Approved');
});

it('a card left unsettled by an outage on a request decided meanwhile is found and shown final, not left with its buttons', async () => {
  s.slack.answerLate('chat.postMessage', 1_200);
  const id = await s.submit(baseRequest({ action: 'deploy.release' }));
  await s.t.waitFor(async () => cardsOf(id).length === 1, 10_000, 'card posted');
  proxy.cut();
  try {
    await jobFailed(jobIds.post(id, `slack:${DATA_CHANNEL}`));
  } finally {
    proxy.restore();
    s.slack.answerLate('chat.postMessage', 0);
  }
  // Decided before anyone re-drove the card: the change owes no update (no card is known), and the card has buttons.
  await s.t.waitFor(async () => (await approve(id)).status === 201, 10_000, 'approval once the database is back');
  expect(hasButtons(cardsOf(id)[0].blocks)).toBe(true);

  await s.t.app.reconcile();
  await s.t.waitFor(async () => !hasButtons(cardsOf(id)[0].blocks), 15_000, 'the card found and shown final');
  expect(cardsOf(id)).toHaveLength(1);
  expect((await cardRow(id))?.status).toBe('delivered');
  expect(JSON.stringify(cardsOf(id)[0].blocks)).toContain('Approved');
});

it('throttling that outlasts the retry budget leaves the card owed, and the reconciler posts it once Slack lets it', async () => {
  // More 429s than DELIVERY_ATTEMPTS (4 in tests): the job fails for good, and before the re-drive the card was
  // marked failed and never posted.
  s.slack.fail('chat.postMessage', { status: 429, retryAfterSeconds: 0, match: { channel: DATA_CHANNEL }, times: 6 });
  const id = await s.submit(baseRequest({ action: 'deploy.release' }));
  await jobFailed(jobIds.post(id, `slack:${DATA_CHANNEL}`));
  const row = await cardRow(id);
  expect(row).toMatchObject({ status: 'pending', lastError: expect.stringContaining('ratelimited') });
  expect((await s.audit(id)).map((e) => e.type)).not.toContain('delivery.failed');

  // Each pass gives the debt a fresh job; the throttling ends during the second one.
  for (let pass = 0; pass < 3 && (await cardRow(id))?.status !== 'delivered'; pass++) {
    await s.t.app.reconcile();
    await s.t.waitFor(async () => ['failed', 'completed'].includes((await (await s.t.app.queues.delivery.getJob(jobIds.post(id, `slack:${DATA_CHANNEL}`)))?.getState()) ?? ''), 15_000, 're-driven job done');
  }
  expect((await cardRow(id))?.status).toBe('delivered');
  expect(cardsOf(id)).toHaveLength(1);
  expect(s.slack.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args.blocks ?? []).includes(id)).map((c) => c.status)).toEqual([429, 429, 429, 429, 429, 429, 200]);
});

it('throttling of the final update beyond its retry budget: the reconciler re-drives the update until the card shows the outcome', async () => {
  const id = await s.submit(baseRequest({ action: 'deploy.release' }));
  const card = await s.card(id);
  await s.t.waitFor(async () => (await cardRow(id))?.status === 'delivered', 10_000, 'card row delivered');
  s.slack.fail('chat.update', { status: 429, retryAfterSeconds: 0, match: { ts: card.ts }, times: 5 });
  expect((await approve(id)).status).toBe(201);
  await jobFailed(jobIds.update(id, `slack:${DATA_CHANNEL}`, 'approved:1'));
  expect(hasButtons(card.blocks)).toBe(true);

  const report = await s.t.app.reconcile();
  expect(report.redriven).toBeGreaterThanOrEqual(1);
  await s.t.waitFor(async () => !hasButtons(card.blocks), 15_000, 'final card without buttons');
  expect(cardsOf(id)).toHaveLength(1);
  // A debt paid is not re-driven again.
  await s.t.waitFor(async () => (await s.t.app.reconcile()).redriven === 0, 10_000, 'nothing left to re-drive');

  const metrics = (await s.t.call('GET', '/metrics', { key: '' })).body as string;
  expect(metrics).toMatch(/countersign_reconciler_redrives_total\{kind="update"\} [1-9]/);
  expect(metrics).toMatch(/countersign_reconciler_redrives_total\{kind="card"\} [1-9]/);
});

it('Slack answers after the client timeout: the retry finds the card already posted, posts no second one, and that card is updated', async () => {
  // Every post is carried out at once and answered after the client gave up (also after the 10 s a client without
  // SLACK_TIMEOUT_MS waited), so each attempt that posted would leave one more copy.
  s.slack.answerLate('chat.postMessage', 11_000);
  try {
    const id = await s.submit(baseRequest({ action: 'deploy.release' }));
    await s.t.waitFor(async () => (await cardRow(id))?.status === 'delivered', 15_000, 'card row delivered');
    expect(cardsOf(id)).toHaveLength(1);
    const lookups = s.slack.callsTo('conversations.history').filter((c) => c.args.channel === DATA_CHANNEL);
    expect(lookups.length).toBeGreaterThanOrEqual(1);
    expect(String(lookups[0].args.include_all_metadata)).toBe('true');
    expect(cardsOf(id)[0].metadata).toEqual({ event_type: 'countersign_approval_card', event_payload: { request_id: id } });

    expect((await approve(id)).status).toBe(201);
    await s.t.waitFor(async () => !hasButtons(cardsOf(id)[0].blocks), 15_000, 'the one card updated to its outcome');
    expect(cardsOf(id)).toHaveLength(1);
    expect(s.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === DATA_CHANNEL && JSON.stringify(c.args.blocks ?? []).includes(id))).toHaveLength(1);
  } finally {
    s.slack.answerLate('chat.postMessage', 0);
  }
});

it('a permanent failure is given up at once, with its reason on the row and in the trail, and is not re-driven', async () => {
  s.slack.fail('chat.postMessage', { error: 'not_in_channel', match: { channel: DATA_CHANNEL } });
  const id = await s.submit(baseRequest({ action: 'deploy.release' }));
  await s.t.waitFor(async () => (await cardRow(id))?.status === 'failed', 10_000, 'card row failed');
  expect((await cardRow(id))?.lastError).toContain('not_in_channel');
  const failed = await s.t.waitFor(async () => (await s.audit(id)).find((e) => e.type === 'delivery.failed'), 10_000, 'delivery.failed');
  expect(failed.data).toMatchObject({ kind: 'card', permanent: true });
  await s.t.app.reconcile();
  expect(s.slack.callsTo('chat.postMessage').filter((c) => JSON.stringify(c.args.blocks ?? []).includes(id))).toHaveLength(1);
  expect(cardsOf(id)).toHaveLength(0);
});

it('a notification and a callback that outlast their retry budgets are re-driven until they are delivered, once each', async () => {
  // The requester's DM is throttled, and the agent's callback receiver is down, for more than DELIVERY_ATTEMPTS (4).
  // A requester of its own: DMs of earlier tests' requests (still being retried) must not take the scripted answers.
  s.slack.addUser({ id: 'U0000GRACE', name: 'grace', realName: 'Grace Requester', email: 'grace@example.com' });
  s.slack.fail('chat.postMessage', { status: 429, retryAfterSeconds: 0, match: { channel: 'D0000GRACE' }, times: 5 });
  failing = 5;
  const id = await s.submit(baseRequest({ action: 'deploy.release', callbackUrl: receiverUrl, onBehalfOf: { email: 'grace@example.com', name: 'Grace' } }));
  await s.card(id);
  expect((await approve(id)).status).toBe(201);
  await jobFailed(jobIds.notify(id));
  await jobFailed(jobIds.callback(id));
  const rows = () => s.t.db.delivery.findMany({ where: { requestId: id, kind: { in: ['notify', 'callback'] } }, orderBy: { kind: 'asc' } });
  expect((await rows()).map((r) => [r.kind, r.status])).toEqual([['callback', 'pending'], ['notify', 'pending']]);

  const report = await s.t.app.reconcile();
  expect(report.redriven).toBeGreaterThanOrEqual(2);
  await s.t.waitFor(async () => (await rows()).every((r) => r.status === 'delivered'), 15_000, 'notification and callback delivered');
  const dms = s.slack.messagesIn('D0000GRACE').filter((m) => JSON.stringify(m.history[0].blocks ?? []).includes(id));
  expect(dms).toHaveLength(1);
  expect(received.filter((r) => r === id)).toHaveLength(6);
  expect(failing).toBeLessThan(0);
  await s.t.waitFor(async () => (await s.t.app.reconcile()).redriven === 0, 10_000, 'nothing left to re-drive');
});

it('a database outage right after the requester was told: the re-driven notification adopts the message sent, no second DM', async () => {
  const id = await s.submit(baseRequest({ action: 'deploy.release' }));
  await s.card(id);
  await s.t.waitFor(async () => (await cardRow(id))?.status === 'delivered', 10_000, 'card row delivered');
  const dmsOf = () => s.slack.messagesIn('D0000FRANK').filter((m) => JSON.stringify(m.history[0].blocks ?? []).includes(id));
  // The database goes away the moment Slack has carried out the DM, before the answer reaches the worker.
  let cut = false;
  s.slack.onCall('chat.postMessage', (args) => {
    if (!cut && args.channel === 'D0000FRANK' && JSON.stringify(args.blocks ?? []).includes(id)) {
      cut = true;
      proxy.cut();
    }
  });
  expect((await approve(id)).status).toBe(201);
  try {
    await jobFailed(jobIds.notify(id));
  } finally {
    proxy.restore();
  }
  expect(cut).toBe(true);
  expect(dmsOf()).toHaveLength(1);

  await s.t.app.reconcile();
  const row = await s.t.waitFor(async () => {
    const d = await s.t.db.delivery.findFirst({ where: { requestId: id, kind: 'notify' } });
    return d?.status === 'delivered' ? d : null;
  }, 15_000, 'notification row delivered');
  expect((row.messageRef as any).ref.channel).toBe('D0000FRANK');
  expect(dmsOf()).toHaveLength(1);
});
