/**
 * Slack end to end: the real app with the Slack adapter, Bolt and the WebClient pointed at a fake Slack API, and
 * interactions signed exactly as Slack signs them. Every assertion is on an effect someone could observe: what Slack
 * received, what the API and the audit trail say, what is in Postgres.
 */
import { baseRequest } from '../support/start-app';
import { interactionBody, postToSlack, blockActionsPayload, commandBody, slashCommandFields } from '../fakes/slack-requests';
import urlVerification from '../fixtures/slack/url-verification.json';
import { DATA_CHANNEL, SIGNING_SECRET, startSlackTestApp, USERS, type SlackTestApp } from './slack-test-app';

let s: SlackTestApp;
beforeAll(async () => {
  s = await startSlackTestApp();
});
afterAll(async () => {
  await s?.close();
});

const hasButtons = (blocks: any[] | undefined) => (blocks ?? []).some((b) => b.type === 'actions');
const text = (x: unknown) => JSON.stringify(x);

/** Waits until the card's latest version satisfies `pred`. */
async function cardState(requestId: string, pred: (blocks: any[]) => boolean, what: string) {
  const card = await s.card(requestId);
  await s.t.waitFor(async () => pred(card.blocks ?? []), 10_000, what);
  return card;
}

describe('round trip in Slack', () => {
  it('posts the full card, refuses self-approval in chat, accepts another approver, finalises the card and DMs the requester', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.release', resource: 'k8s://prod/payments', traceId: 'trace-slack-1' }));

    // The card: every fact of the request, sensitive context masked, Approve/Deny carrying the request id.
    const card = await s.card(id);
    const posted = text(card.history[0].blocks);
    for (const fact of [
      'Approval needed: deploy.release', 'etl-agent@example.com (agent, model gpt-5-mini)', 'Frank', 'k8s://prod/payments', 'production',
      'high', 'Quarterly churn analysis requested in TICKET-4711', 'rows', '120000', 'dataset', 'customers', 'ticket', 'db_password',
      'single-approval', '0 of 1', id, 'approvers', 'trace-slack-1',
    ]) expect(posted).toContain(fact);
    expect(posted).not.toContain('hunter2');
    const details = await s.request(id);
    expect(posted).toContain(details.expiresAt);
    const actions = card.history[0].blocks!.find((b) => b.type === 'actions');
    expect(actions.elements).toEqual([
      expect.objectContaining({ action_id: 'countersign_approve', style: 'primary', value: id }),
      expect.objectContaining({ action_id: 'countersign_deny', style: 'danger', value: id }),
    ]);
    // The message reference is in Postgres, not memory.
    const rows = await s.t.db.$queryRawUnsafe<{ message_ref: any }[]>("SELECT message_ref FROM delivery WHERE request_id = $1::uuid AND kind = 'card'", id);
    expect(rows[0].message_ref.ref).toEqual({ channel: DATA_CHANNEL, ts: card.ts });

    // Frank is who the request is made for: refused with an ephemeral message naming why; nothing moves.
    const self = await s.click(id, 'frank');
    expect(self.status).toBe(200);
    const refusal = await s.reply(self.responseUrl);
    expect(refusal.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(refusal.body.text).toContain('Self-approval is not allowed: you are the person the request is made on behalf of');
    expect((await s.request(id)).status).toBe('pending');
    const refused = (await s.audit(id)).find((e) => e.type === 'vote.refused');
    expect(refused).toMatchObject({ channel: 'slack', data: { refusal: 'self_approval', attempted: 'approve' } });
    expect(refused.actor.ids).toEqual(expect.arrayContaining(['frank@example.com', 'slack:U0000FRANK']));

    // Someone outside the approver groups: refused too.
    const outsider = await s.click(id, 'mallory');
    expect((await s.reply(outsider.responseUrl)).body.text).toContain('You are not an approver for this request');

    // Alice approves: decided, the card loses its buttons and names her, Frank gets a DM.
    const ok = await s.click(id, 'alice');
    expect(ok.status).toBe(200);
    expect((await s.reply(ok.responseUrl)).body.text).toContain('the request is now approved');
    const after = await s.request(id);
    expect(after).toMatchObject({ status: 'approved', decidedBy: 'Alice Example', votes: [expect.objectContaining({ channel: 'slack', decision: 'approve', approver: expect.objectContaining({ email: 'alice@example.com', slackUserId: 'U0000ALICE' }) })] });

    await cardState(id, (b) => !hasButtons(b), 'final card');
    expect(text(card.blocks)).toContain('*Approved* by Alice Example');
    expect(card.blocks![0].text.text).toBe('Approved: deploy.release');
    expect(s.slack.callsTo('chat.update').filter((c) => c.args.ts === card.ts).every((c) => c.args.channel === DATA_CHANNEL)).toBe(true);

    const dm = await s.t.waitFor(async () => s.slack.messagesIn('D0000FRANK').find((m) => text(m.blocks).includes(id)), 10_000, 'DM to Frank');
    expect(dm.text).toContain('Approved by Alice Example');
    expect(s.slack.callsTo('users.lookupByEmail').some((c) => c.args.email === 'frank@example.com')).toBe(true);
    const deliveries = (await s.request(id)).deliveries;
    expect(deliveries).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'card', target: `slack:${DATA_CHANNEL}`, status: 'delivered' }),
    ]));
    await s.t.waitFor(async () => (await s.request(id)).deliveries.find((d: any) => d.kind === 'notify' && d.status === 'delivered'), 10_000, 'notify delivered');
  });

  it('acknowledges a click before looking the user up or voting', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.slow-slack' }));
    await s.card(id);
    // A user nobody has looked up yet, and a Slack that takes 1.5 s to answer users.info.
    s.slack.addUser({ id: 'U0000SLOW', name: 'slow', realName: 'Slow Carol', email: 'carol@example.com' });
    s.slack.slow('users.info', 1500);
    try {
      const payload = blockActionsPayload({ requestId: id, userId: 'U0000SLOW', responseUrl: s.slack.responseUrl() });
      const res = await postToSlack(s.eventsUrl, SIGNING_SECRET, interactionBody(payload));
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(1000);
      expect((await s.request(id)).status).toBe('pending');
      expect((await s.reply(payload.response_url)).body.text).toContain('now approved');
    } finally {
      s.slack.slow('users.info', 0);
    }
  });

  it('never calls auth.test, and answers url_verification', async () => {
    const raw = JSON.stringify(urlVerification);
    const res = await postToSlack(s.eventsUrl, SIGNING_SECRET, raw, { contentType: 'application/json' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ challenge: urlVerification.challenge });
    // A signed interaction no listener handles is answered, not left hanging until Slack times out.
    const unknown = blockActionsPayload({ requestId: '00000000-0000-0000-0000-000000000000', userId: USERS.alice.id, actionId: 'someone_elses_button' });
    expect((await postToSlack(s.eventsUrl, SIGNING_SECRET, interactionBody(unknown))).status).toBe(404);
    expect(s.slack.callsTo('auth.test')).toHaveLength(0);
  });
});

describe('reasons', () => {
  it('opens a modal on Deny and records the denial with its reason; an empty reason is refused by the core', async () => {
    const id = await s.submit(baseRequest());
    await s.card(id);
    const click = await s.click(id, 'bob', 'countersign_deny');
    expect(click.status).toBe(200);

    // First submission without a reason: the rule says on-deny, so the core refuses and nothing changes.
    const empty = await s.submitModal(click.triggerId, 'bob', null);
    expect(empty.status).toBe(200);
    const open = s.slack.callsTo('views.open').find((c) => c.args.trigger_id === click.triggerId)!;
    expect(open.args.view).toMatchObject({ type: 'modal', callback_id: 'countersign_reason', submit: { text: 'Deny' } });
    expect(text(open.args.view.blocks)).toContain('"optional":false');
    expect((await s.reply(click.responseUrl)).body.text).toContain('A reason is required to deny this request');
    expect((await s.request(id)).status).toBe('pending');

    s.slack.responses.length = 0;
    await s.submitModal(click.triggerId, 'bob', 'PII export not signed off by the DPO');
    expect((await s.reply(click.responseUrl)).body.text).toContain('Your denial was recorded');
    expect(await s.request(id)).toMatchObject({ status: 'denied', decidedBy: 'Bob Example', decisionReason: 'PII export not signed off by the DPO' });
    const card = await cardState(id, (b) => !hasButtons(b), 'denied card');
    expect(text(card.blocks)).toContain('*Denied* by Bob Example');
    expect(text(card.blocks)).toContain('PII export not signed off by the DPO');
  });

  it('asks for a reason on Approve when the rule says reason: always', async () => {
    const id = await s.submit(baseRequest({ action: 'iam.grant', resource: 'iam://prod/role/admin' }));
    const card = await s.card(id);
    expect(card.history[0].blocks!.find((b) => b.type === 'actions').elements[0].action_id).toBe('countersign_approve_reason');
    const click = await s.click(id, 'carol', 'countersign_approve_reason');
    await s.submitModal(click.triggerId, 'carol', 'Break-glass for INC-9');
    expect((await s.reply(click.responseUrl)).body.text).toContain('now approved');
    expect(await s.request(id)).toMatchObject({ status: 'approved', votes: [expect.objectContaining({ reason: 'Break-glass for INC-9', channel: 'slack' })] });
  });
});

describe('quorum', () => {
  it('shows progress after the first approval and the outcome after the second; the same person counts once', async () => {
    const id = await s.submit(baseRequest());
    await s.card(id);
    const first = await s.click(id, 'alice');
    expect((await s.reply(first.responseUrl)).body.text).toContain('(1 of 2)');
    const card = await cardState(id, (b) => text(b).includes('1 of 2'), 'progress on the card');
    expect(hasButtons(card.blocks)).toBe(true);
    expect(text(card.blocks)).toContain('*Alice Example* approved via slack');

    const again = await s.click(id, 'alice');
    expect((await s.reply(again.responseUrl)).body.text).toContain('You already voted to approve this request');
    // Erin has no email in Slack but is an approver by Slack id: she counts as a second, different person.
    const second = await s.click(id, 'erin');
    expect((await s.reply(second.responseUrl)).body.text).toContain('now approved');
    await cardState(id, (b) => !hasButtons(b), 'final card');
    expect(text(card.blocks)).toContain('*Approved* by Alice Example, Erin NoEmail');
    expect((await s.request(id)).approvals).toEqual({ required: 2, received: 2 });
  });
});

describe('verification', () => {
  it('refuses forged, stale, future and unsigned requests with 401 and changes nothing', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.canary' }));
    await s.card(id);
    await s.t.waitFor(async () => (await s.audit(id)).some((e) => e.type === 'delivery.delivered'), 10_000, 'card delivery recorded');
    const auditBefore = (await s.audit(id)).length;
    const infoBefore = s.slack.callsTo('users.info').length;
    const responsesBefore = s.slack.responses.length;

    const body = interactionBody(blockActionsPayload({ requestId: id, userId: USERS.alice.id, responseUrl: s.slack.responseUrl() }));
    const now = Math.floor(Date.now() / 1000);
    const attempts = [
      await postToSlack(s.eventsUrl, SIGNING_SECRET, body, { signWith: 'not-the-signing-secret' }),
      await postToSlack(s.eventsUrl, SIGNING_SECRET, body, { timestamp: now - 6 * 60 }),
      await postToSlack(s.eventsUrl, SIGNING_SECRET, body, { timestamp: now + 6 * 60 }),
      await postToSlack(s.eventsUrl, SIGNING_SECRET, body, { signWith: null }),
      await postToSlack(s.eventsUrl, SIGNING_SECRET, body, { signature: 'v0=' + '0'.repeat(64) }),
      // Body altered after signing.
      await postToSlack(s.eventsUrl, SIGNING_SECRET, body, { signature: (await import('../fakes/slack-requests')).slackSignature(SIGNING_SECRET, now, body.replace('U0000ALICE', 'U0000BOB')), timestamp: now }),
      // An unsigned slash command, as a script kiddie would send it.
      await postToSlack(s.eventsUrl, SIGNING_SECRET, commandBody(slashCommandFields({ userId: USERS.alice.id, text: `audit ${id}`, responseUrl: s.slack.responseUrl() })), { signWith: null }),
    ];
    for (const a of attempts) {
      expect(a.status).toBe(401);
      expect(a.json.error.code).toBe('invalid_slack_signature');
    }
    expect((await s.request(id)).status).toBe('pending');
    expect((await s.request(id)).votes).toHaveLength(0);
    expect(await s.audit(id)).toHaveLength(auditBefore);
    expect(s.slack.callsTo('users.info').length).toBe(infoBefore);
    expect(s.slack.responses.length).toBe(responsesBefore);
  });
});

describe('races', () => {
  it('turns 20 concurrent clicks from two people into one decision and one final card', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.hotfix' }));
    const card = await s.card(id);
    const clicks = await Promise.all(Array.from({ length: 20 }, (_, i) => s.click(id, i % 2 ? 'alice' : 'bob')));
    expect(clicks.every((c) => c.status === 200)).toBe(true);
    const replies = await Promise.all(clicks.map((c) => s.reply(c.responseUrl)));
    const accepted = replies.filter((r) => r.body.text.includes('now approved'));
    expect(accepted).toHaveLength(1);
    for (const r of replies) if (r !== accepted[0]) expect(r.body.text).toMatch(/already approved|already voted/);

    const votes = await s.t.db.vote.findMany({ where: { requestId: id } });
    expect(votes).toHaveLength(1);
    expect((await s.audit(id)).filter((e) => e.type === 'request.decided')).toHaveLength(1);

    await cardState(id, (b) => !hasButtons(b), 'final card');
    await s.t.waitFor(async () => s.slack.messagesIn('D0000FRANK').find((m) => text(m.blocks).includes(id)), 10_000, 'DM');
    expect(s.slack.callsTo('chat.update').filter((c) => c.args.ts === card.ts)).toHaveLength(1);
    expect(s.slack.messagesIn(DATA_CHANNEL).filter((m) => text(m.history[0].blocks).includes(id))).toHaveLength(1);
  });
});

describe('expiry', () => {
  it('refuses a click after expiry, expires the request and finalises the card', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.late' }));
    const card = await s.card(id);
    await s.t.db.$executeRawUnsafe("UPDATE approval_request SET expires_at = now() - interval '1 second' WHERE id = $1::uuid", id);
    const click = await s.click(id, 'alice');
    expect((await s.reply(click.responseUrl)).body.text).toContain('This request has expired');
    expect(await s.request(id)).toMatchObject({ status: 'expired', votes: [] });
    await cardState(id, (b) => !hasButtons(b), 'expired card');
    expect(text(card.blocks)).toContain('*Expired* without a decision');
    const late = await s.click(id, 'bob');
    expect((await s.reply(late.responseUrl)).body.text).toContain('This request has expired');
    const refusals = (await s.audit(id)).filter((e) => e.type === 'vote.refused');
    expect(refusals.map((e) => [e.actor.key, e.data.refusal])).toEqual([['alice@example.com', 'expired'], ['bob@example.com', 'expired']]);
  });
});

describe('Slack API failures', () => {
  it('honours 429 Retry-After and posts the card exactly once', async () => {
    s.slack.fail('chat.postMessage', { status: 429, retryAfterSeconds: 1, match: { channel: DATA_CHANNEL } });
    const id = await s.submit(baseRequest({ action: 'deploy.throttled' }));
    await s.card(id);
    const posts = s.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === DATA_CHANNEL && text(c.args.blocks).includes(id));
    expect(posts.map((p) => p.status)).toEqual([429, 200]);
    expect(posts[1].at - posts[0].at).toBeGreaterThanOrEqual(900);
    expect(s.slack.messagesIn(DATA_CHANNEL).filter((m) => text(m.history[0].blocks).includes(id))).toHaveLength(1);
    const d = (await s.request(id)).deliveries.find((x: any) => x.kind === 'card');
    expect(d).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it('records channel_not_found as a failed delivery, visible on the request and in the audit trail', async () => {
    const id = await s.submit(baseRequest({ action: 'broken.thing' }));
    const failed = await s.t.waitFor(async () => (await s.request(id)).deliveries.find((d: any) => d.status === 'failed'), 10_000, 'failed delivery');
    expect(failed).toMatchObject({ kind: 'card', target: 'slack:C0000GONE', attempts: 1 });
    expect(failed.lastError).toContain('channel_not_found');
    // The delivery row is settled a moment before its audit event is appended: wait for the event, not just the row.
    const event = await s.t.waitFor(async () => (await s.audit(id)).find((e) => e.type === 'delivery.failed'), 10_000, 'delivery.failed event');
    expect(event).toMatchObject({ channel: 'slack', data: { kind: 'card', target: 'slack:C0000GONE', permanent: true } });
    expect(s.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0000GONE')).toHaveLength(1);
  });
});

describe('slash command', () => {
  it('shows the audit trail with votes and refusals to an auditor (Slack user group), and refuses others', async () => {
    const id = await s.submit(baseRequest());
    await s.card(id);
    await s.reply((await s.click(id, 'frank')).responseUrl);
    await s.reply((await s.click(id, 'alice')).responseUrl);
    const deny = await s.click(id, 'bob', 'countersign_deny');
    await s.submitModal(deny.triggerId, 'bob', 'Not this quarter');
    await s.reply(deny.responseUrl);
    await s.t.waitFor(async () => (await s.request(id)).status === 'denied', 10_000, 'denied');

    const cmd = await s.command('dave', `audit ${id}`);
    expect(cmd.status).toBe(200);
    expect(cmd.text).toBe('');
    const reply = (await s.reply(cmd.responseUrl)).body;
    expect(reply.response_type).toBe('ephemeral');
    const all = text(reply.blocks);
    for (const fact of ['Audit trail: dataset.export', 'request.submitted', 'vote.refused', 'self_approval', 'Frank Requester', 'vote.cast', 'Alice Example', 'request.decided', 'Not this quarter', 'via slack', '*Denied* by Bob Example'])
      expect(all).toContain(fact);
    expect(s.slack.callsTo('usergroups.users.list').some((c) => c.args.usergroup === 'S0000AUDIT')).toBe(true);

    const nope = await s.command('mallory', `audit ${id}`);
    expect((await s.reply(nope.responseUrl)).body.text).toContain('You are not allowed to look up the audit trail');

    // Mentions are resolved to the person's email, so requests made for Frank by email are found.
    const byUser = await s.command('dave', 'audit user:<@U0000FRANK|frank> since:1d');
    const found = (await s.reply(byUser.responseUrl)).body;
    expect(text(found.blocks)).toContain('user:frank@example.com');
    expect(text(found.blocks)).toContain(id);
  });

  it('answers help and pending', async () => {
    const help = await s.command('alice', 'help');
    expect(text((await s.reply(help.responseUrl)).body.blocks)).toContain('`/countersign pending`');
    const id = await s.submit(baseRequest({ action: 'deploy.pending-check' }));
    await s.card(id);
    const pending = await s.command('carol', 'pending');
    const body = (await s.reply(pending.responseUrl)).body;
    expect(text(body.blocks)).toContain(id);
    expect(body.blocks.some((b: any) => b.type === 'actions')).toBe(true);
  });
});
