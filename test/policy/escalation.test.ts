/**
 * `escalate: { after: 2s, to: [security], channels: [...] }`: a request still pending after 2 s is also asked of the
 * security group: its members may vote from then on (not before), the card is updated to say so, the escalation's
 * channel gets a card, and the trail records `request.escalated` once; a lost timer is re-derived by the reconciler.
 */
import { startSlackTestApp, DATA_CHANNEL, type SlackTestApp } from '../slack/slack-test-app';
import { baseRequest } from '../support/start-app';

const SEC_CHANNEL = 'C0000SEC';
const POLICY = `
version: 1
groups:
  approvers: [alice@example.com, bob@example.com]
  security: [dave@example.com]
rules:
  - name: escalating
    match: { action: dataset.export }
    outcome: require
    approvers: [approvers]
    approvals: 1
    channels: ["slack:${DATA_CHANNEL}"]
    ttlSeconds: 120
    escalate: { after: 2s, to: [security], channels: ["slack:${SEC_CHANNEL}"] }
default:
  outcome: require
  approvers: [approvers]
  channels: ["slack:${DATA_CHANNEL}"]
`;

let s: SlackTestApp;
beforeAll(async () => {
  s = await startSlackTestApp({ policyYaml: POLICY, prepare: (slack) => slack.addChannel(SEC_CHANNEL) });
});
afterAll(async () => {
  await s?.close();
});

const vote = (id: string, email: string) => s.t.call('POST', `/v1/requests/${id}/decisions`, { key: s.t.keys.approver, body: { approver: { email }, decision: 'approve' } });
const escalations = async (id: string) => (await s.audit(id)).filter((e: any) => e.type === 'request.escalated');

it('adds the escalation group as approvers once due, updates the card and posts to the escalation channel', async () => {
  const id = await s.submit(baseRequest());
  const card = await s.card(id);

  // Before the escalation, security is not an approver.
  const early = await vote(id, 'dave@example.com');
  expect(early.status).toBe(403);
  expect(early.body.error.code).toBe('not_eligible');

  const [event] = await s.t.waitFor(async () => {
    const e = await escalations(id);
    return e.length ? e : undefined;
  }, 20_000, 'request.escalated');
  expect(event.data).toMatchObject({ afterSeconds: 2, to: ['security'], approvers: ['approvers', 'security'], channels: [`slack:${SEC_CHANNEL}`], members: 1 });

  // The card says so, and the escalation channel gets a card of its own.
  await s.t.waitFor(async () => JSON.stringify(card.history.at(-1)?.blocks ?? []).includes('security may approve too'), 10_000, 'the updated card');
  expect(JSON.stringify(card.history.at(-1)!.blocks)).toMatch(/Escalated at .*: security may approve too/);
  const secCard = await s.card(id, SEC_CHANNEL);
  expect(JSON.stringify(secCard.history[0].blocks)).toContain('security may approve too');

  // Security may vote from now on.
  const now = await vote(id, 'dave@example.com');
  expect(now.status).toBe(201);
  expect(now.body).toMatchObject({ status: 'approved', approvals: 1 });

  // Never twice.
  await s.t.app.reconcile();
  expect(await escalations(id)).toHaveLength(1);
}, 60_000);

it('re-derives a lost escalation timer from PostgreSQL', async () => {
  const id = await s.submit(baseRequest({ resource: 'warehouse://prod/lost' }));
  await s.card(id);
  await s.t.app.queues.timers.remove(`escalate.${id}`);
  await new Promise((r) => setTimeout(r, 2_500));
  expect(await escalations(id)).toHaveLength(0);
  await s.t.app.reconcile();
  expect(await escalations(id)).toHaveLength(1);
  expect((await vote(id, 'dave@example.com')).body).toMatchObject({ status: 'approved' });
}, 60_000);

it('does not escalate a request decided before it is due, nor a rule without escalate', async () => {
  const decided = await s.submit(baseRequest({ resource: 'warehouse://prod/quick' }));
  const plain = await s.submit(baseRequest({ action: 'ticket.close' }));
  expect((await vote(decided, 'alice@example.com')).body.status).toBe('approved');
  await new Promise((r) => setTimeout(r, 2_500));
  await s.t.app.reconcile();
  await s.t.waitFor(async () => (await s.t.app.queues.timers.getJobState(`escalate.${decided}`)) === 'completed', 10_000, 'the escalation timer run');
  expect(await escalations(decided)).toHaveLength(0);
  expect(await escalations(plain)).toHaveLength(0);
  expect(await s.t.app.queues.timers.getJob(`escalate.${plain}`)).toBeUndefined();
}, 60_000);
