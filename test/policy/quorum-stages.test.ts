/**
 * Per-group quorums and ordered stages through the real API and Slack: one from each group with a person counted
 * once overall, the next stage asked (its cards posted) only after the previous approved, self-approval and
 * counted-once rules across stages, and cards that say what is still needed.
 */
import { startSlackTestApp, DATA_CHANNEL, type SlackTestApp } from '../slack/slack-test-app';

const SEC_CHANNEL = 'C0000SEC';
const POLICY = `
version: 1
groups:
  data-owners: [alice@example.com, bob@example.com, mallory@example.com]
  security: [alice@example.com, carol@example.com, dave@example.com, frank@example.com]
rules:
  - name: export-two-groups
    match: { action: dataset.export }
    outcome: require
    approvals: { security: 1, data-owners: 1 }
    channels: ["slack:${DATA_CHANNEL}"]
    reason: none
  - name: iam-staged
    match: { action: "iam.*" }
    outcome: require
    channels: ["slack:${DATA_CHANNEL}"]
    reason: none
    stages:
      - { name: owners, approvers: [data-owners], approvals: 1 }
      - { name: security, approvals: { security: 1 }, channels: ["slack:${SEC_CHANNEL}"] }
default: { outcome: deny }
`;

const request = (action: string) => ({
  action, resource: 'warehouse://prod/customers', requester: { id: 'etl-agent-7', type: 'agent' },
  onBehalfOf: { email: 'frank@example.com', name: 'Frank' }, environment: 'production',
});

let s: SlackTestApp;
beforeAll(async () => {
  s = await startSlackTestApp({ policyYaml: POLICY, prepare: (slack) => slack.addChannel(SEC_CHANNEL) });
});
afterAll(async () => {
  await s?.close();
});

const vote = (id: string, email: string, decision: 'approve' | 'deny' = 'approve') =>
  s.t.call('POST', `/v1/requests/${id}/decisions`, { key: s.t.keys.approver, body: { approver: { email }, decision } });
const cardText = (m: { blocks?: unknown; history: { blocks?: unknown }[] }) => JSON.stringify(m.blocks ?? m.history[m.history.length - 1].blocks);

describe('per-group quorum', () => {
  it('needs one from each group; an approval its group no longer needs is refused; the card says what is missing', async () => {
    const id = await s.submit(request('dataset.export'));
    const card = await s.card(id);
    expect(cardText(card)).toContain('1 from security, 1 from data-owners');

    const bob = await vote(id, 'bob@example.com');
    expect(bob.body).toMatchObject({ status: 'pending', approvals: 1, approvalsRequired: 2 });
    await s.t.waitFor(async () => cardText(card).includes('Still needed') && !cardText(card).includes('1 from data-owners'), 10_000, 'card update');
    expect(cardText(card)).toContain('1 from security');

    const mallory = await vote(id, 'mallory@example.com');
    expect(mallory.status).toBe(403);
    expect(mallory.body.error).toMatchObject({ code: 'not_eligible' });
    expect(mallory.body.error.message).toContain('would not count: still needed 1 from security');

    const carol = await vote(id, 'carol@example.com');
    expect(carol.body).toMatchObject({ status: 'approved', approvals: 2 });
  });

  it('counts a person in both groups once: alice alone never approves, alice and bob do', async () => {
    const id = await s.submit(request('dataset.export'));
    expect((await vote(id, 'alice@example.com')).body).toMatchObject({ status: 'pending', approvals: 1 });
    const again = await vote(id, 'alice@example.com');
    expect(again.body.error.code).toBe('already_voted');
    // alice fills security, bob data-owners (the assignment is re-made as votes arrive).
    expect((await vote(id, 'bob@example.com')).body).toMatchObject({ status: 'approved', approvals: 2 });
  });
});

describe('ordered stages', () => {
  it('asks stage 2 only after stage 1 approves, with its own cards; counted-once and self-approval hold across stages', async () => {
    const id = await s.submit(request('iam.grant'));
    const first = await s.card(id);
    expect(cardText(first)).toContain('1 of 2 (owners): data-owners');
    // Stage 2's channel is not owed a card yet, by the queue or by the reconciler's read-out.
    const owed = await s.t.app.store.requests.awaitingCards(500);
    expect(owed.filter((r) => r.id === id).flatMap((r) => r.targets)).not.toContain(`slack:${SEC_CHANNEL}`);
    expect(s.slack.messagesIn(SEC_CHANNEL)).toHaveLength(0);

    const early = await vote(id, 'carol@example.com');
    expect(early.status).toBe(403);
    expect(early.body.error.message).toContain('Stage 1 of 2 is being asked now');

    expect((await vote(id, 'alice@example.com')).body).toMatchObject({ status: 'pending', approvals: 1, approvalsRequired: 2 });
    const events = await s.audit(id);
    expect(events.find((e: any) => e.type === 'request.stage_advanced')?.data).toMatchObject({ stage: 2, of: 2, name: 'security', approvers: ['security'], channels: [`slack:${SEC_CHANNEL}`] });

    // Stage 2's approvers get their card now; the first card moves on too.
    const second = await s.card(id, SEC_CHANNEL);
    expect(cardText(second)).toContain('2 of 2 (security): security');
    await s.t.waitFor(async () => cardText(first).includes('2 of 2 (security)'), 10_000, 'first card update');

    // alice (also in security) was counted in stage 1: she is not counted again.
    expect((await vote(id, 'alice@example.com')).body.error.code).toBe('already_voted');
    // frank is who the request is made on behalf of: never his own approver, in any stage.
    expect((await vote(id, 'frank@example.com')).body.error.code).toBe('self_approval');

    expect((await vote(id, 'dave@example.com')).body).toMatchObject({ status: 'approved', approvals: 2 });
    const detail = await s.request(id);
    expect(detail.policy.requirement.stages).toHaveLength(2);
    expect(detail.decidedBy).toContain('dave@example.com');
  });

  it('lists a staged request in a later stage\'s approvers\' `pending` only once their stage is asked', async () => {
    const id = await s.submit(request('iam.rotate'));
    await s.card(id);
    const pendingOf = async (who: 'carol' | 'bob') => JSON.stringify((await s.reply((await s.command(who, 'pending')).responseUrl)).body);
    expect(await pendingOf('bob')).toContain(id);
    expect(await pendingOf('carol')).not.toContain(id);
    expect((await vote(id, 'bob@example.com')).body.status).toBe('pending');
    expect(await pendingOf('carol')).toContain(id);
  });

  it('lets a stage-2 approver deny only once stage 2 is asked, which denies the request', async () => {
    const id = await s.submit(request('iam.revoke'));
    expect((await vote(id, 'dave@example.com', 'deny')).body.error.code).toBe('not_eligible');
    expect((await vote(id, 'bob@example.com')).body.status).toBe('pending');
    expect((await vote(id, 'dave@example.com', 'deny')).body).toMatchObject({ status: 'denied' });
  });
});
