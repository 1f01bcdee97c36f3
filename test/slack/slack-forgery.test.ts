/**
 * Forgery and size, end to end in Slack: requests at the API's maxima, filled with text written to forge a card, go
 * through intake, the delivery worker, the real WebClient and a fake Slack that refuses what Slack refuses; an
 * approver's reason written the same way goes through Bolt and the reason modal. Every version of the card, the
 * requester's DM and the replies stay within limits and show nothing forged.
 */
import { slackLimitProblems } from '../support/block-kit-limits';
import { slackForgeryProblems } from '../support/forgery-checks';
import { FORGERY, largestRequest } from '../support/request-extremes';
import { startSlackTestApp, type SlackTestApp } from './slack-test-app';

let s: SlackTestApp;
beforeAll(async () => {
  // The largest valid request is over the default 64 KiB body limit; raise it as an operator allowing it would.
  s = await startSlackTestApp({ env: { BODY_LIMIT_BYTES: String(1024 * 1024), PUBLIC_BASE_URL: 'https://countersign.example.com' } });
});
afterAll(async () => {
  await s?.close();
});

const hasButtons = (blocks: any[] | undefined) => (blocks ?? []).some((b) => b.type === 'actions');

describe('the largest valid request, written to forge the card', () => {
  it('is posted within Slack\'s limits, forges nothing, and an approver\'s forged reason forges nothing either', async () => {
    const id = await s.submit({ ...largestRequest({ nasty: true }), action: 'deploy.largest' });
    const card = await s.card(id);
    const posted = card.history[0] as { text: string; blocks: any[] };
    expect(slackLimitProblems(posted)).toEqual([]);
    expect(slackForgeryProblems(posted, { votes: 0 })).toEqual([]);
    expect(JSON.stringify(posted.blocks)).toContain(`<https://countersign.example.com/v1/requests/${id}|Full request (API)>`);
    await s.t.waitFor(async () => (await s.request(id)).deliveries.find((d: any) => d.kind === 'card' && d.status === 'delivered'), 10_000, 'card delivered');

    // Bob denies with a reason written to forge lines of its own.
    const click = await s.click(id, 'bob', 'countersign_deny');
    await s.submitModal(click.triggerId, 'bob', `No.${FORGERY.votes}${FORGERY.links}`.slice(0, 2000));
    expect((await s.reply(click.responseUrl)).body.text).toContain('Your denial was recorded');
    await s.t.waitFor(async () => !hasButtons(card.blocks), 10_000, 'final card');
    const final = card.history.at(-1) as { text: string; blocks: any[] };
    expect(slackLimitProblems(final)).toEqual([]);
    expect(slackForgeryProblems(final, { votes: 1 })).toEqual([]);
    expect(JSON.stringify(final.blocks)).toContain('*Denied* by Bob Example');

    const dm = await s.t.waitFor(async () => s.slack.messagesIn('D0000FRANK').find((m) => JSON.stringify(m.blocks).includes(id)), 10_000, 'DM');
    expect(slackLimitProblems(dm as any)).toEqual([]);
    expect(slackForgeryProblems(dm as any, { votes: 0 })).toEqual([]);
    // Every call Slack answered was accepted: nothing was refused as invalid_blocks or msg_blocks_too_long.
    expect(s.slack.calls.filter((c) => ['invalid_blocks', 'msg_blocks_too_long'].includes(c.response.error))).toEqual([]);
  });

  it('posts the plain largest request too, showing what fits and saying what was shortened', async () => {
    const id = await s.submit({ ...largestRequest(), action: 'deploy.largest-plain' });
    const card = await s.card(id);
    const posted = card.history[0] as { text: string; blocks: any[] };
    expect(slackLimitProblems(posted)).toEqual([]);
    expect(JSON.stringify(posted.blocks)).toMatch(/Shortened to fit: [^"]*50 context values/);
  });

  it('shows the audit trail of such a request within limits', async () => {
    const id = await s.submit({ ...largestRequest({ nasty: true }), action: 'deploy.largest-trail' });
    await s.card(id);
    const cmd = await s.command('dave', `audit ${id}`);
    const reply = (await s.reply(cmd.responseUrl)).body;
    expect(slackLimitProblems(reply)).toEqual([]);
    expect(slackForgeryProblems(reply, { votes: 0 })).toEqual([]);
  });
});
