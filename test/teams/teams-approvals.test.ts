/**
 * Teams approvals end to end: the real app and workers, botbuilder's real CloudAdapter, and a fake Bot Connector that
 * receives what Teams would. Activities come from realistic fixtures (test/fixtures/teams).
 */
import { chatPresented } from '../../src/channels/chat-identity';
import { baseRequest } from '../support/start-app';
import type { RecordedCall } from '../fakes/fake-bot-connector';
import { botInstalled, botRemoved, cardAction, CHANNEL_ID, channelMessage, personalInstall, personalMessage, TEAMS_USERS, TENANT_ID } from '../fakes/teams-activities';
import { pendingReasonInputId } from '../../adapters/teams/teams-render';
import { cardOf, cardText, startTeamsTestApp, type TeamsTestApp } from './teams-test-app';

let h: TeamsTestApp;
beforeAll(async () => {
  h = await startTeamsTestApp();
});
afterAll(async () => {
  await h?.close();
});

/** Submits a request and waits until its card is in the Teams channel. Returns the request id and the post call. */
async function submitAndWaitForCard(body: Record<string, unknown>): Promise<{ id: string; post: RecordedCall; activityId: string }> {
  const res = await h.t.submit(body);
  expect(res.status).toBe(202);
  const id = res.body.id as string;
  const post = await h.fake.waitForCall((c) => c.operation === 'send' && c.status === 201 && c.conversationId === CHANNEL_ID && JSON.stringify(c.body).includes(id));
  const delivery = await h.t.waitFor(() => h.t.db.delivery.findFirst({ where: { requestId: id, kind: 'card', status: 'delivered' } }), 10_000, 'card delivery row');
  const activityId = (delivery.messageRef as any).ref.activityId as string;
  return { id, post, activityId };
}

/** Waits until the card in the channel (as last updated) satisfies `predicate`. */
async function waitForSharedCard(activityId: string, predicate: (text: string, card: any) => boolean): Promise<any> {
  return h.t.waitFor(async () => {
    const stored = h.fake.activity(CHANNEL_ID, activityId);
    if (!stored) return undefined;
    const card = cardOf(stored.current);
    return predicate(cardText(card), card) ? card : undefined;
  }, 10_000, 'the shared card to be updated');
}

async function auditTypes(requestId: string): Promise<{ type: string; channel: string; payload: any }[]> {
  const rows = await h.t.db.auditEvent.findMany({ where: { requestId }, orderBy: { seq: 'asc' } });
  return rows.map((r) => ({ type: r.type, channel: r.channel, payload: JSON.parse(r.payload) }));
}

describe('installation', () => {
  it('captures the conversation reference when the bot is installed, and forgets it when removed', async () => {
    const row = await h.t.db.teamsConversation.findUnique({ where: { conversationId: CHANNEL_ID } });
    expect(row).toMatchObject({ conversationId: CHANNEL_ID, tenantId: TENANT_ID });
    const ref = row!.reference as any;
    expect(ref).toMatchObject({ channelId: 'msteams', serviceUrl: h.fake.url, conversation: { id: CHANNEL_ID, tenantId: TENANT_ID }, bot: { id: expect.stringMatching(/^28:/) } });
    expect(ref.activityId).toBeUndefined();

    const other = '19:5d6e7f8091a2b3c4d5e6f708192a3b4c@thread.tacv2';
    expect((await h.send(botInstalled(h.fake.url, other))).status).toBe(200);
    expect(await h.t.db.teamsConversation.findUnique({ where: { conversationId: other } })).not.toBeNull();
    expect((await h.send(botRemoved(h.fake.url, other))).status).toBe(200);
    expect(await h.t.db.teamsConversation.findUnique({ where: { conversationId: other } })).toBeNull();
  });

  it('captures a personal chat on install, and a channel on the first message there (without the thread suffix)', async () => {
    expect((await h.send(personalInstall(h.fake.url, TEAMS_USERS.bob))).status).toBe(200);
    const personal = await h.t.db.teamsConversation.findUnique({ where: { conversationId: TEAMS_USERS.bob.personalConversationId } });
    expect((personal!.reference as any).user).toMatchObject({ id: TEAMS_USERS.bob.id, aadObjectId: TEAMS_USERS.bob.aadObjectId });

    const fresh = '19:0f1e2d3c4b5a69788796a5b4c3d2e1f0@thread.tacv2';
    expect((await h.send(channelMessage(h.fake.url, TEAMS_USERS.alice, 'help', fresh))).status).toBe(200);
    expect(await h.t.db.teamsConversation.findUnique({ where: { conversationId: fresh } })).toMatchObject({ tenantId: TENANT_ID });
  });
});

describe('cards and decisions', () => {
  it('posts the card proactively with every fact and context field', async () => {
    const { id, post, activityId } = await submitAndWaitForCard(baseRequest());
    expect(post.path).toBe(`/v3/conversations/${encodeURIComponent(CHANNEL_ID)}/activities`);
    const card = cardOf(post.body);
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.5' });
    const text = cardText(card);
    for (const expected of [
      'Approval needed: dataset.export',
      'Action: dataset.export',
      'Resource: warehouse://prod/customers',
      'Environment: production',
      'Risk: high',
      'Requested by: etl-agent@example.com (agent, model gpt-5-mini)',
      'On behalf of: Frank',
      'Quarterly churn analysis requested in TICKET-4711',
      'rows: 120000',
      'dataset: customers',
      'ticket: TICKET-4711',
      'Matched rule: two-person-export',
      'Approvals: 0 of 2 needed',
      'Approver groups: approvers',
      `Request id: ${id}`,
      'Expires: {{DATE(',
    ]) {
      expect(text).toContain(expected);
    }
    expect(text).not.toContain('hunter2');
    expect(text).toMatch(/db_password: •••••• \(sha256 [0-9a-f]{8}…\) \(masked\)/);
    expect(card.actions.map((a: any) => [a.type, a.verb, a.data.requestId])).toEqual([
      ['Action.Execute', 'approve', id],
      ['Action.Execute', 'deny', id],
    ]);
    expect(card.refresh).toMatchObject({ action: { verb: 'refresh', data: { requestId: id } }, userIds: ['8:orgid:00000000-0000-0000-0000-00000000e1e1'] });

    // The activity id Teams returned is stored, so the card can be updated in place later.
    const delivery = await h.t.db.delivery.findFirst({ where: { requestId: id, kind: 'card' } });
    expect(delivery).toMatchObject({ target: `teams:${CHANNEL_ID}`, status: 'delivered', attempts: 1 });
    expect((delivery!.messageRef as any).ref).toMatchObject({ conversationId: CHANNEL_ID, activityId, serviceUrl: h.fake.url, tenantId: TENANT_ID });
    expect((await auditTypes(id)).map((e) => e.type)).toContain('delivery.delivered');
  });

  it('approves through an adaptiveCard/action invoke, answering with the updated card for the clicker, and updates the card for everyone', async () => {
    const { id, activityId } = await submitAndWaitForCard(baseRequest());
    const alice = await h.send(cardAction(h.fake.url, TEAMS_USERS.alice, { verb: 'approve', requestId: id, replyToId: activityId }));
    expect(alice.status).toBe(200);
    expect(alice.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: { type: 'AdaptiveCard', version: '1.5' } });
    const aliceCard = cardText(alice.body.value);
    expect(aliceCard).toContain('Your approval was recorded (1 of 2).');
    expect(aliceCard).toContain('Approvals: 1 of 2 needed');
    expect(aliceCard).toContain('**Alice Approver** approved via teams');
    // Her identity came from the member lookup (the invoke carries only her AAD object id), looked up once and cached.
    expect(h.fake.callsOf('getMember').filter((c) => c.userId === TEAMS_USERS.alice.id)).toHaveLength(1);
    const vote = await h.t.db.vote.findFirst({ where: { requestId: id } });
    expect(vote).toMatchObject({ personKey: 'alice@example.com', channel: 'teams', decision: 'approve' });
    expect(vote!.approver).toMatchObject({ email: 'alice@example.com', teamsUserId: TEAMS_USERS.alice.aadObjectId, name: 'Alice Approver' });

    // The worker updates the shared message (PUT) after the vote…
    await waitForSharedCard(activityId, (t) => t.includes('Approvals: 1 of 2 needed') && t.includes('Alice Approver'));

    const bob = await h.send(cardAction(h.fake.url, TEAMS_USERS.bob, { verb: 'approve', requestId: id, replyToId: activityId }));
    expect(bob.status).toBe(200);
    expect(cardText(bob.body.value)).toContain('Your approval was recorded; the request is now approved.');
    expect(bob.body.value.actions).toEqual([]);

    // …and at the outcome: buttons gone, outcome, by whom, when.
    const final = await waitForSharedCard(activityId, (t) => t.includes('Outcome: Approved'));
    const finalText = cardText(final);
    expect(finalText).toContain('By: Alice Approver, Bob Builder');
    expect(finalText).toContain('When: {{DATE(');
    expect(final.actions).toEqual([]);
    expect(final.refresh).toBeUndefined();
    const updates = h.fake.callsOf('update').filter((c) => c.activityId === activityId);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.every((c) => c.status === 200 && c.method === 'PUT' && c.conversationId === CHANNEL_ID)).toBe(true);

    const detail = await h.t.call('GET', `/v1/requests/${id}`);
    expect(detail.body).toMatchObject({ status: 'approved', approvals: { required: 2, received: 2 } });
  });

  it('refuses self-approval with a clear message on the clicker\'s card and an audit event', async () => {
    const { id, activityId } = await submitAndWaitForCard(baseRequest());
    const res = await h.send(cardAction(h.fake.url, TEAMS_USERS.frank, { verb: 'approve', requestId: id, replyToId: activityId }));
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('application/vnd.microsoft.card.adaptive');
    const text = cardText(res.body.value);
    expect(text).toContain('Self-approval is not allowed: you are the person the request is made on behalf of.');
    expect(res.body.value.body[0]).toMatchObject({ type: 'Container', style: 'attention' });
    // Still pending, with its buttons.
    expect(text).toContain('Approvals: 0 of 2 needed');
    expect(res.body.value.actions).toHaveLength(2);
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(0);
    const refused = (await auditTypes(id)).find((e) => e.type === 'vote.refused');
    expect(refused).toMatchObject({ channel: 'teams', payload: { data: { refusal: 'self_approval' } } });
    expect(refused!.payload.actor.ids).toEqual(expect.arrayContaining(['frank@example.com', `teams:${TEAMS_USERS.frank.aadObjectId}`]));
  });

  it('refuses people outside the approver groups', async () => {
    const { id } = await submitAndWaitForCard(baseRequest());
    const res = await h.send(cardAction(h.fake.url, TEAMS_USERS.mallory, { verb: 'approve', requestId: id }));
    expect(cardText(res.body.value)).toContain('You are not an approver for this request (approver groups: approvers).');
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(0);
  });

  it('counts a person who voted in Slack and clicks in Teams once (quorum 2)', async () => {
    const { id, activityId } = await submitAndWaitForCard(baseRequest());
    // Alice's vote arriving through the Slack adapter: the same core call with her Slack identity.
    const aliceInSlack = { email: 'alice@example.com', slackUserId: 'U0000ALICE', name: 'Alice (Slack)' };
    const slackVote = await h.t.app.services.decisions.vote(id, { presented: chatPresented('slack', aliceInSlack), approver: aliceInSlack, channel: 'slack', decision: 'approve' });
    expect(slackVote).toMatchObject({ outcome: 'accepted', status: 'pending', approvals: 1 });

    const again = await h.send(cardAction(h.fake.url, TEAMS_USERS.alice, { verb: 'approve', requestId: id, replyToId: activityId }));
    expect(cardText(again.body.value)).toContain('You already voted to approve this request (via slack); each person counts once.');
    expect(cardText(again.body.value)).toContain('Approvals: 1 of 2 needed');
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(1);

    const bob = await h.send(cardAction(h.fake.url, TEAMS_USERS.bob, { verb: 'approve', requestId: id, replyToId: activityId }));
    expect(cardText(bob.body.value)).toContain('the request is now approved');
    const votes = await h.t.db.vote.findMany({ where: { requestId: id }, orderBy: { createdAt: 'asc' } });
    expect(votes.map((v) => [v.personKey, v.channel])).toEqual([['alice@example.com', 'slack'], ['bob@example.com', 'teams']]);
    await waitForSharedCard(activityId, (t) => t.includes('Outcome: Approved') && t.includes('approved via slack') && t.includes('approved via teams'));
  });

  it('denies with a reason (refusing a deny without one), updates the card with why, and tells the requester in a personal chat', async () => {
    const frank = TEAMS_USERS.frank;
    const { id, activityId } = await submitAndWaitForCard(baseRequest({ onBehalfOf: { email: frank.email, name: 'Frank', teamsUserId: frank.aadObjectId } }));

    const bare = await h.send(cardAction(h.fake.url, TEAMS_USERS.carol, { verb: 'deny', requestId: id, replyToId: activityId, reason: '   ' }));
    expect(cardText(bare.body.value)).toContain('A reason is required to deny this request.');
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(0);

    const res = await h.send(cardAction(h.fake.url, TEAMS_USERS.carol, { verb: 'deny', requestId: id, replyToId: activityId, reason: 'Not during the quarter-end freeze' }));
    expect(cardText(res.body.value)).toContain('Your denial was recorded; the request is now denied.');
    expect(await h.t.db.vote.findFirst({ where: { requestId: id } })).toMatchObject({ decision: 'deny', reason: 'Not during the quarter-end freeze', channel: 'teams' });

    const final = await waitForSharedCard(activityId, (t) => t.includes('Outcome: Denied'));
    expect(cardText(final)).toContain('By: Carol Checker');
    expect(cardText(final)).toContain('Why: Not during the quarter-end freeze');

    // Frank has no chat with the bot yet: one is created with his AAD id, then the outcome is sent there.
    const created = await h.fake.waitForCall((c) => c.operation === 'createConversation' && JSON.stringify(c.body).includes(frank.aadObjectId));
    expect(created.body).toMatchObject({ isGroup: false, members: [{ id: frank.aadObjectId }], tenantId: TENANT_ID, channelData: { tenant: { id: TENANT_ID } } });
    const conversationId = h.fake.createdConversations.find((c) => c.parameters === created.body)!.id;
    const sent = await h.fake.waitForCall((c) => c.operation === 'send' && c.conversationId === conversationId);
    expect(cardText(cardOf(sent.body))).toContain('Your request was denied: dataset.export');
    await h.t.waitFor(() => h.t.db.delivery.findFirst({ where: { requestId: id, kind: 'notify', status: 'delivered' } }), 10_000, 'notify delivery');
    // The new personal chat is remembered for next time.
    expect(await h.t.db.teamsConversation.findUnique({ where: { conversationId } })).not.toBeNull();
  });

  it('notifies a requester through the personal chat the bot already has with them', async () => {
    const bob = TEAMS_USERS.bob; // installed the app personally in an earlier test
    await h.send(personalInstall(h.fake.url, bob));
    const { id, activityId } = await submitAndWaitForCard(baseRequest({ action: 'deploy.prod', onBehalfOf: { email: bob.email, teamsUserId: bob.aadObjectId.toUpperCase() } }));
    const creates = h.fake.callsOf('createConversation').length;
    await h.send(cardAction(h.fake.url, TEAMS_USERS.alice, { verb: 'approve', requestId: id, replyToId: activityId }));
    const sent = await h.fake.waitForCall((c) => c.operation === 'send' && c.conversationId === bob.personalConversationId && JSON.stringify(c.body).includes(id));
    expect(cardText(cardOf(sent.body))).toContain('Your request was approved: deploy.prod');
    expect(h.fake.callsOf('createConversation').length).toBe(creates);
  });

  it('turns concurrent clicks into exactly one final decision', async () => {
    const { id, activityId } = await submitAndWaitForCard(baseRequest({ action: 'deploy.prod' }));
    const clickers = [TEAMS_USERS.alice, TEAMS_USERS.bob, TEAMS_USERS.carol];
    const responses = await Promise.all(clickers.map((u) => h.send(cardAction(h.fake.url, u, { verb: 'approve', requestId: id, replyToId: activityId }))));
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    const notices = responses.map((r) => cardText(r.body.value));
    expect(notices.filter((n) => n.includes('the request is now approved'))).toHaveLength(1);
    expect(notices.filter((n) => n.includes('This request is already approved; it can no longer change.'))).toHaveLength(2);
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(1);
    const decided = (await auditTypes(id)).filter((e) => e.type === 'request.decided');
    expect(decided).toHaveLength(1);
    await waitForSharedCard(activityId, (t) => t.includes('Outcome: Approved'));
  });

  it('refuses a late click on an expired request, and the card then shows it expired', async () => {
    const { id, activityId } = await submitAndWaitForCard(baseRequest({ action: 'deploy.prod' }));
    await h.t.db.$executeRawUnsafe(`UPDATE approval_request SET expires_at = now() - interval '1 second' WHERE id = $1::uuid`, id);
    const res = await h.send(cardAction(h.fake.url, TEAMS_USERS.alice, { verb: 'approve', requestId: id, replyToId: activityId }));
    expect(cardText(res.body.value)).toContain('This request has expired and can no longer be approved.');
    expect(res.body.value.actions).toEqual([]);
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(0);
    await waitForSharedCard(activityId, (t) => t.includes('Outcome: Expired'));
  });

  it('records nothing when Teams cannot say who clicked', async () => {
    const { id, activityId } = await submitAndWaitForCard(baseRequest({ action: 'deploy.prod' }));
    h.fake.failNext('getMember', { status: 503 });
    const res = await h.send(cardAction(h.fake.url, TEAMS_USERS.dave, { verb: 'approve', requestId: id, replyToId: activityId }));
    expect(res.status).toBe(200);
    expect(cardText(res.body.value)).toContain('Countersign could not look up your Teams profile, so nothing was recorded.');
    expect(res.body.value.actions).toHaveLength(2);
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(0);
    expect((await auditTypes(id)).some((e) => e.type.startsWith('vote.'))).toBe(false);
  });

  it('answers a refresh with the current card', async () => {
    const { id, activityId } = await submitAndWaitForCard(baseRequest());
    await h.t.app.services.decisions.vote(id, { presented: { asserted: [{ kind: 'email', value: 'bob@example.com' }] }, approver: { email: 'bob@example.com', name: 'Bob' }, channel: 'api', decision: 'approve' });
    const res = await h.send(cardAction(h.fake.url, TEAMS_USERS.erin, { verb: 'refresh', requestId: id, replyToId: activityId }));
    expect(res.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(cardText(res.body.value)).toContain('Approvals: 1 of 2 needed');
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(1);
  });

  it('answers a click on an unknown request with a notice, not an error', async () => {
    const res = await h.send(cardAction(h.fake.url, TEAMS_USERS.alice, { verb: 'approve', requestId: '6f9619ff-8b86-4d11-b42d-00c04fc964ff' }));
    expect(res.status).toBe(200);
    expect(cardText(res.body.value)).toContain('No request with id 6f9619ff-8b86-4d11-b42d-00c04fc964ff.');
  });
});

describe('connector failures', () => {
  it('retries a throttled post after the Retry-After the connector gave, without posting twice', async () => {
    h.fake.failNext('send', { status: 429, headers: { 'Retry-After': '1' }, body: { error: { code: 'Throttled', message: 'Too many requests' } } });
    const res = await h.t.submit(baseRequest({ action: 'deploy.staging' }));
    const id = res.body.id as string;
    const ok = await h.fake.waitForCall((c) => c.operation === 'send' && c.status === 201 && JSON.stringify(c.body).includes(id), 15_000);
    const attempts = h.fake.callsOf('send').filter((c) => JSON.stringify(c.body).includes(id));
    expect(attempts.map((c) => c.status)).toEqual([429, 201]);
    // botbuilder did not retry on its own: the worker waited the second the connector asked for.
    expect(ok.at - attempts[0].at).toBeGreaterThanOrEqual(950);
    const delivery = await h.t.waitFor(() => h.t.db.delivery.findFirst({ where: { requestId: id, kind: 'card', status: 'delivered' } }), 10_000, 'delivered');
    expect(delivery.attempts).toBe(2);
    expect(h.fake.activitiesIn(CHANNEL_ID).filter((a) => JSON.stringify(a.current).includes(id))).toHaveLength(1);
  });

  it('retries a 5xx and records a 403 as a permanent failed delivery', async () => {
    h.fake.failNext('send', { status: 502, bodyIncludes: 'deploy.canary' });
    const a = (await h.t.submit(baseRequest({ action: 'deploy.canary' }))).body.id as string;
    await h.fake.waitForCall((c) => c.operation === 'send' && c.status === 201 && JSON.stringify(c.body).includes(a));

    h.fake.failNext('send', { status: 403, bodyIncludes: 'deploy.hotfix', body: { error: { code: 'BotNotInConversationRoster', message: 'The bot is not part of the conversation roster.' } } });
    const b = (await h.t.submit(baseRequest({ action: 'deploy.hotfix' }))).body.id as string;
    const failed = await h.t.waitFor(() => h.t.db.delivery.findFirst({ where: { requestId: b, kind: 'card', status: 'failed' } }), 10_000, 'failed delivery');
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toContain('http_403');
    expect(failed.lastError).toContain('BotNotInConversationRoster');
    // The delivery row and its audit event are two statements: wait for the event rather than read once.
    const event = await h.t.waitFor(async () => (await auditTypes(b)).find((e) => e.type === 'delivery.failed'), 10_000, 'the delivery.failed event');
    expect(event).toMatchObject({ channel: 'teams', payload: { data: { permanent: true, target: `teams:${CHANNEL_ID}` } } });
    expect(h.fake.callsOf('send').filter((c) => JSON.stringify(c.body).includes(b))).toHaveLength(1);
  });

  it('fails a card for a conversation the bot was never installed in, without calling Teams', async () => {
    const id = (await h.t.submit(baseRequest({ action: 'db.migrate' }))).body.id as string;
    const failed = await h.t.waitFor(() => h.t.db.delivery.findFirst({ where: { requestId: id, kind: 'card', status: 'failed' } }), 10_000, 'failed delivery');
    expect(failed.lastError).toContain('conversation_not_found');
    expect(h.fake.calls.some((c) => c.conversationId?.includes('notinstalled'))).toBe(false);
  });
});

describe('commands', () => {
  it('answers `audit <id>` with the trail for a member of an audit group, and refuses others', async () => {
    const { id, activityId } = await submitAndWaitForCard(baseRequest());
    await h.send(cardAction(h.fake.url, TEAMS_USERS.frank, { verb: 'approve', requestId: id, replyToId: activityId }));
    await h.send(cardAction(h.fake.url, TEAMS_USERS.alice, { verb: 'approve', requestId: id, replyToId: activityId }));

    const msg = channelMessage(h.fake.url, TEAMS_USERS.carol, `audit ${id}`);
    expect((await h.send(msg)).status).toBe(200);
    const reply = await h.fake.waitForCall((c) => c.operation === 'reply' && c.activityId === msg.id && cardText(cardOf(c.body)).includes(id));
    const text = cardText(cardOf(reply.body));
    expect(text).toContain(`Audit trail of request ${id}`);
    expect(text).toContain('Action: dataset.export');
    expect(text).toContain('**request.submitted** · agent:etl-agent-7 · via api');
    expect(text).toContain('**policy.matched**');
    expect(text).toContain('**vote.refused** · Frank Requester');
    expect(text).toContain('refusal: self_approval');
    expect(text).toContain('**vote.cast** · Alice Approver');

    const denied = channelMessage(h.fake.url, TEAMS_USERS.alice, `audit ${id}`);
    await h.send({ ...denied, id: '1763723999001' });
    const refusal = await h.fake.waitForCall((c) => c.operation === 'reply' && c.activityId === '1763723999001');
    expect(cardText(cardOf(refusal.body))).toContain('You are not allowed to look up the audit trail.');
  });

  it('answers `audit user:@mention`, `pending` and `help` in a personal chat', async () => {
    const { id } = await submitAndWaitForCard(baseRequest({ action: 'deploy.prod' }));
    const erin = TEAMS_USERS.erin;
    const pending = personalMessage(h.fake.url, erin, 'pending');
    await h.send(pending);
    const p = await h.fake.waitForCall((c) => c.operation === 'reply' && c.conversationId === erin.personalConversationId && cardText(cardOf(c.body)).includes('Requests you can approve'));
    expect(cardText(cardOf(p.body))).toContain(`Request id: ${id}`);

    const carol = TEAMS_USERS.carol;
    const byUser = channelMessage(h.fake.url, carol, 'audit user:<at>Frank Requester</at> since:1d');
    byUser.id = '1763723999002';
    byUser.entities.push({ mentioned: { id: TEAMS_USERS.frank.id, name: 'Frank Requester' }, text: '<at>Frank Requester</at>', type: 'mention' });
    await h.send(byUser);
    const u = await h.fake.waitForCall((c) => c.operation === 'reply' && c.activityId === '1763723999002');
    const uText = cardText(cardOf(u.body));
    expect(uText).toContain('user:frank@example.com');
    expect(uText).toContain('**vote.refused** · Frank Requester (frank@example.com) · via teams');
    expect(uText).toContain('refusal: self_approval');

    const help = personalMessage(h.fake.url, carol, 'help');
    help.id = '1763723999003';
    await h.send(help);
    const hReply = await h.fake.waitForCall((c) => c.operation === 'reply' && c.activityId === '1763723999003');
    expect(cardText(cardOf(hReply.body))).toContain('Countersign commands');
  });

  it('lets an approver decide from the `pending` list, like Slack: Approve/Deny per entry, the typed reason recorded', async () => {
    const { id } = await submitAndWaitForCard(baseRequest({ action: 'deploy.from-pending' }));
    const erin = TEAMS_USERS.erin;
    const ask = personalMessage(h.fake.url, erin, 'pending');
    ask.id = '1763723999004';
    await h.send(ask);
    const reply = await h.fake.waitForCall((c) => c.operation === 'reply' && c.activityId === ask.id);
    const card = cardOf(reply.body);
    const entry = card.body.find((e: any) => e.type === 'Container' && JSON.stringify(e).includes(id));
    const actionSet = entry.items.find((e: any) => e.type === 'ActionSet');
    expect(actionSet.actions.map((a: any) => [a.type, a.verb, a.data])).toEqual([
      ['Action.Execute', 'approve', { requestId: id }],
      ['Action.Execute', 'deny', { requestId: id }],
    ]);
    expect(entry.items.find((e: any) => e.type === 'Input.Text')).toMatchObject({ id: pendingReasonInputId(id), label: 'Reason (required to deny)' });

    const res = await h.send(cardAction(h.fake.url, erin, { verb: 'deny', requestId: id, conversationId: erin.personalConversationId, data: { [pendingReasonInputId(id)]: 'Not during the freeze' } }));
    expect(res.status).toBe(200);
    expect(cardText(res.body.value)).toContain('Your denial was recorded; the request is now denied.');
    expect(await h.t.db.vote.findFirst({ where: { requestId: id } })).toMatchObject({ channel: 'teams', decision: 'deny', reason: 'Not during the freeze' });
    expect((await h.t.call('GET', `/v1/requests/${id}`)).body.status).toBe('denied');
  });
});
