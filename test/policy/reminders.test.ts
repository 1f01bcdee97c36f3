/**
 * `remind: [2s, 4s]`: approvers of a request still pending are reminded under its card (Slack: a threaded reply to the
 * card; Teams: a new message in the card's conversation), once per card and reminder, never after the decision; a
 * lost reminder is re-derived from PostgreSQL by the reconciler.
 */
import { startSlackTestApp, DATA_CHANNEL, type SlackTestApp } from '../slack/slack-test-app';
import { startTeamsTestApp, type TeamsTestApp } from '../teams/teams-test-app';
import { CHANNEL_ID } from '../fakes/teams-activities';
import { baseRequest } from '../support/start-app';

const policy = (channel: string) => `
version: 1
groups:
  approvers: [alice@example.com, bob@example.com, carol@example.com]
rules:
  - name: reminded
    match: { action: dataset.export }
    outcome: require
    approvers: [approvers]
    approvals: 2
    channels: ["${channel}"]
    ttlSeconds: 120
    remind: [2s, 4s]
default:
  outcome: require
  approvers: [approvers]
  channels: ["${channel}"]
  ttlSeconds: 120
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Slack', () => {
  let s: SlackTestApp;
  beforeAll(async () => {
    s = await startSlackTestApp({ policyYaml: policy(`slack:${DATA_CHANNEL}`) });
  });
  afterAll(async () => {
    await s?.close();
  });

  const threadReplies = (ts: string) => s.slack.callsTo('chat.postMessage').filter((c) => c.args.thread_ts === ts && c.status === 200);

  it('reminds approvers twice in the card thread while pending, then never after the decision', async () => {
    const id = await s.submit(baseRequest());
    const decided = await s.submit(baseRequest({ resource: 'warehouse://prod/orders' }));
    const plain = await s.submit(baseRequest({ action: 'ticket.close' }));
    const card = await s.card(id);
    const decidedCard = await s.card(decided);
    await s.card(plain);
    // Decided before its first reminder (two approvals through the API).
    for (const email of ['alice@example.com', 'bob@example.com']) {
      await s.t.call('POST', `/v1/requests/${decided}/decisions`, { key: s.t.keys.approver, body: { approver: { email }, decision: 'approve' } });
    }
    expect((await s.request(decided)).status).toBe('approved');

    const replies = await s.t.waitFor(async () => (threadReplies(card.ts).length >= 2 ? threadReplies(card.ts) : undefined), 20_000, 'two reminders');
    expect(replies.map((c) => c.args.channel)).toEqual([DATA_CHANNEL, DATA_CHANNEL]);
    expect(replies[0].args.text).toMatch(/^:hourglass_flowing_sand: Reminder: still waiting for approval \(0 of 2 approvals\); expires in \d+m?\d*s? \(/);
    const events = (await s.audit(id)).filter((e: any) => e.type === 'delivery.delivered' && e.data.kind === 'reminder');
    expect(events.map((e: any) => [e.data.target, e.data.reminder])).toEqual([[`slack:${DATA_CHANNEL}#0`, 1], [`slack:${DATA_CHANNEL}#1`, 2]]);

    // Reconciling again sends nothing more; the decided request and the rule without `remind` got none.
    await s.t.app.reconcile();
    await sleep(500);
    expect(threadReplies(card.ts)).toHaveLength(2);
    expect(threadReplies(decidedCard.ts)).toHaveLength(0);
    expect(s.slack.callsTo('chat.postMessage').filter((c) => c.args.thread_ts)).toHaveLength(2);
  }, 60_000);

  it('re-derives a lost reminder from PostgreSQL', async () => {
    const id = await s.submit(baseRequest({ resource: 'warehouse://prod/lost' }));
    const card = await s.card(id);
    // Redis loses both timers before they fire.
    for (const n of [0, 1]) await s.t.app.queues.timers.remove(`remind.${id}.${n}`);
    await sleep(4_500);
    expect(threadReplies(card.ts)).toHaveLength(0);
    await s.t.app.reconcile();
    await s.t.waitFor(async () => threadReplies(card.ts).length === 2, 20_000, 'the re-derived reminders');
  }, 60_000);
});

describe('Teams', () => {
  let tt: TeamsTestApp;
  beforeAll(async () => {
    tt = await startTeamsTestApp({ policyYaml: policy(`teams:${CHANNEL_ID}`) });
  });
  afterAll(async () => {
    await tt?.close();
  });

  it('reminds approvers with new messages in the card\'s conversation while pending', async () => {
    const res = await tt.t.submit(baseRequest());
    expect(res.body.status).toBe('pending');
    const texts = () => tt.fake.activitiesIn(CHANNEL_ID).map((a) => a.current.text as string | undefined).filter((x): x is string => Boolean(x && x.includes('Reminder:')));
    await tt.t.waitFor(async () => texts().length >= 2, 20_000, 'two reminders');
    expect(texts()[0]).toMatch(/^⏳ Reminder: still waiting for approval \(0 of 2 approvals\)/);
    const sends = tt.fake.calls.filter((c) => c.operation === 'send' && c.conversationId === CHANNEL_ID);
    // The card, then the two reminders.
    expect(sends).toHaveLength(3);
  }, 60_000);
});
