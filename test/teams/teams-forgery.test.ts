/**
 * Forgery and size, end to end in Teams: requests at the API's maxima, filled with text written to forge a card, go
 * through intake, the delivery worker and botbuilder to a fake Bot Connector that refuses messages over Teams' 100 KB
 * limit; an approver's reason written the same way comes back through an Action.Execute invoke. Every card (posted,
 * the clicker's, updated, the requester's) parses with Microsoft's library, fits, and shows nothing forged.
 */
import { TEAMS_MESSAGE_BYTES } from '../../adapters/teams/teams-render';
import { TEAMS_MAX_MESSAGE_BYTES } from '../fakes/fake-bot-connector';
import { cardAction, CHANNEL_ID, channelMessage, TEAMS_USERS } from '../fakes/teams-activities';
import { adaptiveCardProblems, teamsForgeryProblems } from '../support/forgery-checks';
import { FORGERY, largestRequest } from '../support/request-extremes';
import { cardOf, cardText, startTeamsTestApp, type TeamsTestApp } from './teams-test-app';

const BASE = 'https://countersign.example.com';
let h: TeamsTestApp;
beforeAll(async () => {
  // The largest valid request is over the default 64 KiB body limit; raise it as an operator allowing it would.
  h = await startTeamsTestApp({ env: { BODY_LIMIT_BYTES: String(1024 * 1024), PUBLIC_BASE_URL: BASE } });
});
afterAll(async () => {
  await h?.close();
});

const bytes = (x: unknown) => Buffer.byteLength(JSON.stringify(x), 'utf8');

async function submitAndWaitForPost(body: Record<string, unknown>) {
  const res = await h.t.submit(body);
  expect(res.status).toBe(202);
  const id = res.body.id as string;
  const post = await h.fake.waitForCall((c) => c.operation === 'send' && c.conversationId === CHANNEL_ID && JSON.stringify(c.body).includes(id));
  return { id, post };
}

describe('the largest valid request in Teams', () => {
  it('reproduction: is posted (no 413 from the connector) within Teams\' size limit, and says what was shortened', async () => {
    const { id, post } = await submitAndWaitForPost({ ...largestRequest(), action: 'deploy.largest' });
    expect(post.status).toBe(201);
    expect(bytes(post.body)).toBeLessThan(TEAMS_MAX_MESSAGE_BYTES);
    const card = cardOf(post.body);
    expect(bytes({ type: 'message', attachments: post.body.attachments, summary: post.body.summary })).toBeLessThanOrEqual(TEAMS_MESSAGE_BYTES);
    expect(adaptiveCardProblems(card)).toEqual([]);
    expect(cardText(card)).toContain(`[Full request (API)](${BASE}/v1/requests/${id})`);
    const delivery = await h.t.waitFor(() => h.t.db.delivery.findFirst({ where: { requestId: id, kind: 'card', status: 'delivered' } }), 10_000, 'card delivered');
    expect(delivery.attempts).toBe(1);
  });

  it('written to forge the card, forges nothing: not on the posted card, the clicker\'s card, the updated card or the requester\'s', async () => {
    const frank = TEAMS_USERS.frank;
    const body = { ...largestRequest({ nasty: true }), action: 'deploy.largest-forged', onBehalfOf: { email: frank.email, name: `Frank${FORGERY.votes}`, teamsUserId: frank.aadObjectId } };
    const { id, post } = await submitAndWaitForPost(body);
    expect(post.status).toBe(201);
    const posted = cardOf(post.body);
    expect(adaptiveCardProblems(posted)).toEqual([]);
    expect(teamsForgeryProblems(posted, { votes: 0, linkTo: `${BASE}/v1/` })).toEqual([]);
    const delivered = await h.t.waitFor(() => h.t.db.delivery.findFirst({ where: { requestId: id, kind: 'card', status: 'delivered' } }), 10_000, 'card delivered');
    const activityId = (delivered.messageRef as any).ref.activityId as string;

    // Carol denies with a reason written to forge a vote, a link and a list.
    const reason = `No.${FORGERY.votes}${FORGERY.links}${FORGERY.markup}`.slice(0, 2000);
    const res = await h.send(cardAction(h.fake.url, TEAMS_USERS.carol, { verb: 'deny', requestId: id, replyToId: activityId, reason }));
    expect(res.status).toBe(200);
    const mine = res.body.value;
    expect(cardText(mine)).toContain('Your denial was recorded; the request is now denied.');
    expect(bytes(res.body)).toBeLessThan(TEAMS_MAX_MESSAGE_BYTES);
    expect(adaptiveCardProblems(mine)).toEqual([]);
    expect(teamsForgeryProblems(mine, { votes: 1, linkTo: `${BASE}/v1/` })).toEqual([]);

    const updated = await h.t.waitFor(async () => {
      const stored = h.fake.activity(CHANNEL_ID, activityId);
      const card = stored && cardOf(stored.current);
      return card && cardText(card).includes('Outcome: Denied') ? card : undefined;
    }, 10_000, 'the shared card to be updated');
    expect(adaptiveCardProblems(updated)).toEqual([]);
    expect(teamsForgeryProblems(updated, { votes: 1, linkTo: `${BASE}/v1/` })).toEqual([]);

    const notified = await h.fake.waitForCall((c) => c.operation === 'send' && c.conversationId !== CHANNEL_ID && JSON.stringify(c.body).includes(id));
    expect(notified.status).toBe(201);
    expect(teamsForgeryProblems(cardOf(notified.body), { votes: 1, linkTo: `${BASE}/v1/` })).toEqual([]);
    expect(notified.body.summary).not.toMatch(/\n/);
    expect(h.fake.calls.filter((c) => c.status === 413)).toEqual([]);
  });

  it('answers `audit` for such a request with a card that fits and forges nothing', async () => {
    const { id } = await submitAndWaitForPost({ ...largestRequest({ nasty: true }), action: 'deploy.largest-audit' });
    const msg = channelMessage(h.fake.url, TEAMS_USERS.carol, `audit ${id}`);
    msg.id = '1763723999100';
    await h.send(msg);
    const reply = await h.fake.waitForCall((c) => c.operation === 'reply' && c.activityId === msg.id);
    expect(reply.status).toBe(201);
    const card = cardOf(reply.body);
    expect(adaptiveCardProblems(card)).toEqual([]);
    expect(teamsForgeryProblems(card, { votes: 0, linkTo: `${BASE}/v1/` })).toEqual([]);
  });
});
