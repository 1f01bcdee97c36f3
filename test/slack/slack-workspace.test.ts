/**
 * One installation serves one Slack workspace. Through Bolt and the WebClient against the fake Slack: clicks, modal
 * submissions and commands signed by Slack but coming from another workspace (another installation of the app, or a
 * user of another organisation in a shared channel) are refused before anyone is looked up and recorded; the
 * workspace is SLACK_TEAM_ID or learned once from auth.test, never per event.
 */
import { baseRequest } from '../support/start-app';
import { blockActionsPayload, commandBody, interactionBody, postToSlack, slashCommandFields, viewSubmissionPayload } from '../fakes/slack-requests';
import { DATA_CHANNEL, SIGNING_SECRET, startSlackTestApp, USERS, type SlackTestApp } from './slack-test-app';

const OTHER_WORKSPACE = 'T0000EVIL';
/** A user of the other workspace whose profile there says carol@example.com (an approver's email here). */
const INTRUDER = { id: 'U0000EVIL', name: 'carol', realName: 'Carol Example', email: 'carol@example.com' };
const REFUSAL = ':no_entry: This Countersign installation serves another Slack workspace. Nothing was recorded.';

async function clickFrom(s: SlackTestApp, requestId: string, o: { teamId: string; userTeamId?: string; userId?: string; actionId?: string }) {
  const responseUrl = s.slack.responseUrl();
  const payload = blockActionsPayload({ requestId, userId: o.userId ?? INTRUDER.id, actionId: o.actionId, channelId: DATA_CHANNEL, responseUrl, teamId: o.teamId, userTeamId: o.userTeamId });
  const res = await postToSlack(s.eventsUrl, SIGNING_SECRET, interactionBody(payload));
  return { status: res.status, responseUrl, triggerId: payload.trigger_id as string };
}

describe('with SLACK_TEAM_ID', () => {
  let s: SlackTestApp;
  beforeAll(async () => {
    s = await startSlackTestApp({ prepare: (slack) => slack.addUser(INTRUDER) });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('refuses clicks from another workspace and from another organisation\'s user in a shared channel, records them, and lets the workspace\'s own approver decide', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.workspace-check' }));
    await s.card(id);

    const other = await clickFrom(s, id, { teamId: OTHER_WORKSPACE });
    expect(other.status).toBe(200);
    expect((await s.reply(other.responseUrl)).body).toMatchObject({ response_type: 'ephemeral', text: REFUSAL });
    const shared = await clickFrom(s, id, { teamId: s.slack.teamId, userTeamId: OTHER_WORKSPACE });
    expect((await s.reply(shared.responseUrl)).body.text).toBe(REFUSAL);
    // A deny click opens no reason dialog for them either.
    const deny = await clickFrom(s, id, { teamId: OTHER_WORKSPACE, actionId: 'countersign_deny' });
    expect((await s.reply(deny.responseUrl)).body.text).toBe(REFUSAL);
    expect(s.slack.callsTo('views.open').filter((c) => c.args.trigger_id === deny.triggerId)).toHaveLength(0);

    expect(s.slack.callsTo('users.info').filter((c) => c.args.user === INTRUDER.id)).toHaveLength(0);
    expect(await s.t.db.vote.count({ where: { requestId: id } })).toBe(0);
    const refused = (await s.audit(id)).filter((e) => e.type === 'vote.refused');
    expect(refused.map((e) => [e.actor.key, e.data.attempted, e.data.refusal, e.data.workspace, e.data.expectedWorkspace])).toEqual([
      ['slack:U0000EVIL', 'approve', 'foreign_workspace', OTHER_WORKSPACE, 'T0000TEST'],
      ['slack:U0000EVIL', 'approve', 'foreign_workspace', OTHER_WORKSPACE, 'T0000TEST'],
      ['slack:U0000EVIL', 'deny', 'foreign_workspace', OTHER_WORKSPACE, 'T0000TEST'],
    ]);

    const carol = await s.click(id, 'carol');
    expect((await s.reply(carol.responseUrl)).body.text).toContain('the request is now approved');
    expect(await s.t.db.vote.findFirst({ where: { requestId: id } })).toMatchObject({ personKey: 'carol@example.com', channel: 'slack' });
  });

  it('refuses a reason-modal submission and a slash command from another workspace', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.workspace-modal' }));
    await s.card(id);
    const responseUrl = s.slack.responseUrl();
    const metadata = JSON.stringify({ requestId: id, decision: 'deny', channelId: DATA_CHANNEL, responseUrl });
    const submitted = await postToSlack(s.eventsUrl, SIGNING_SECRET, interactionBody(viewSubmissionPayload({ userId: INTRUDER.id, privateMetadata: metadata, reason: 'no', teamId: OTHER_WORKSPACE })));
    expect(submitted.status).toBe(200);
    expect((await s.reply(responseUrl)).body.text).toBe(REFUSAL);
    expect(await s.t.db.vote.count({ where: { requestId: id } })).toBe(0);
    expect((await s.audit(id)).find((e) => e.type === 'vote.refused')).toMatchObject({ data: { attempted: 'deny', refusal: 'foreign_workspace' } });

    const commandUrl = s.slack.responseUrl();
    const command = await postToSlack(s.eventsUrl, SIGNING_SECRET, commandBody(slashCommandFields({ userId: INTRUDER.id, text: `audit ${id}`, responseUrl: commandUrl, teamId: OTHER_WORKSPACE })));
    expect(command.status).toBe(200);
    expect((await s.reply(commandUrl)).body.text).toBe(REFUSAL);
    const lookups = await s.t.db.auditEvent.findMany({ where: { type: { in: ['audit.lookup', 'chat.refused'] } } });
    expect(lookups.map((e) => [e.type, JSON.parse(e.payload).data.attempted])).toEqual([['chat.refused', 'command']]);
    expect(s.slack.callsTo('auth.test')).toHaveLength(0);
  });
});

describe('without SLACK_TEAM_ID', () => {
  it('learns the workspace from auth.test once when inbound traffic starts, never per event', async () => {
    const s = await startSlackTestApp({ env: { SLACK_TEAM_ID: '' }, prepare: (slack) => slack.addUser(INTRUDER) });
    try {
      expect(s.slack.callsTo('auth.test')).toHaveLength(1);
      const id = await s.submit(baseRequest({ action: 'deploy.learned-workspace' }));
      await s.card(id);
      expect((await s.reply((await clickFrom(s, id, { teamId: OTHER_WORKSPACE })).responseUrl)).body.text).toBe(REFUSAL);
      const alice = await s.click(id, 'alice');
      expect((await s.reply(alice.responseUrl)).body.text).toContain('now approved');
      const help = await s.command('bob', 'help');
      expect((await s.reply(help.responseUrl)).body.text).toContain('commands');
      expect(s.slack.callsTo('auth.test')).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it('refuses interactions while it cannot tell its workspace, and serves them once auth.test answers', async () => {
    const s = await startSlackTestApp({ env: { SLACK_TEAM_ID: '' }, prepare: (slack) => slack.fail('auth.test', { error: 'internal_error', times: 2 }) });
    try {
      const id = await s.submit(baseRequest({ action: 'deploy.unknown-workspace' }));
      await s.card(id);
      const early = await s.click(id, 'alice');
      expect((await s.reply(early.responseUrl)).body.text).toBe(':warning: Countersign cannot tell yet which Slack workspace it serves, so nothing was recorded. Please try again in a moment.');
      expect(await s.t.db.vote.count({ where: { requestId: id } })).toBe(0);
      const notReady = await s.t.call('GET', '/readyz', { key: '' });
      expect(notReady.status).toBe(503);
      expect(notReady.body.checks.slack).toBe('unavailable: Slack workspace not known yet (auth.test has not answered): interactions are refused');
      // The background retries (after one, then two more seconds; two failures leave a busy machine time to click first) learn it.
      await s.t.waitFor(async () => s.slack.callsTo('auth.test').some((c) => c.response.ok), 10_000, 'auth.test answered');
      expect((await s.t.call('GET', '/readyz', { key: '' })).body.checks.slack).toBe('ok');
      const later = await s.click(id, 'alice');
      expect((await s.reply(later.responseUrl)).body.text).toContain('now approved');
    } finally {
      await s.close();
    }
  });
});

describe('configuration', () => {
  it('refuses a SLACK_TEAM_ID that is not a workspace id', async () => {
    const { loadConfig, ConfigError } = await import('../../src/config/config');
    expect(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', SLACK_TEAM_ID: 'countersign-test' })).toThrow(ConfigError);
    expect(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', SLACK_TEAM_ID: 'T0123ABCD' }).SLACK_TEAM_ID).toBe('T0123ABCD');
    expect(USERS.carol.email).toBe(INTRUDER.email);
  });
});
