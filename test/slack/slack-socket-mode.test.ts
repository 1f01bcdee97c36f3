/**
 * Socket Mode: with SLACK_APP_TOKEN set the adapter opens a websocket (apps.connections.open on SLACK_API_URL, then
 * the URL it returns) instead of serving POST /slack/events, and the same listeners handle what arrives on it.
 */
import { baseRequest } from '../support/start-app';
import { blockActionsPayload, slashCommandFields } from '../fakes/slack-requests';
import { startSlackTestApp, USERS, type SlackTestApp } from './slack-test-app';

let s: SlackTestApp;
beforeAll(async () => {
  // No signing secret: Socket Mode needs no public endpoint.
  s = await startSlackTestApp({ env: { SLACK_APP_TOKEN: 'xapp-1-fake-app-token', SLACK_SIGNING_SECRET: '' } });
});
afterAll(async () => {
  await s?.close();
});

const text = (x: unknown) => JSON.stringify(x);

describe('Socket Mode', () => {
  it('connects with the app token and serves no HTTP endpoint', async () => {
    const open = s.slack.callsTo('apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0].token).toBe('xapp-1-fake-app-token');
    expect(s.slack.socketConnections()).toBe(1);
    const res = await fetch(s.eventsUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(404);
  });

  it('handles a button click envelope with the same listeners: ack over the socket, vote, ephemeral reply', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.socket' }));
    const card = await s.card(id);
    const responseUrl = s.slack.responseUrl();
    const ack = await s.slack.sendEnvelope({ type: 'interactive', payload: blockActionsPayload({ requestId: id, userId: USERS.alice.id, message: card, responseUrl }) });
    expect(ack.envelope_id).toBeTruthy();
    expect((await s.reply(responseUrl)).body.text).toContain('now approved');
    expect(await s.request(id)).toMatchObject({ status: 'approved', votes: [expect.objectContaining({ channel: 'slack' })] });
    await s.t.waitFor(async () => !(card.blocks ?? []).some((b) => b.type === 'actions'), 10_000, 'final card');
  });

  it('opens the reason modal and runs the slash command over the socket too', async () => {
    const id = await s.submit(baseRequest({ action: 'deploy.socket-deny' }));
    const card = await s.card(id);
    const click = blockActionsPayload({ requestId: id, userId: USERS.bob.id, actionId: 'countersign_deny', message: card, responseUrl: s.slack.responseUrl() });
    await s.slack.sendEnvelope({ type: 'interactive', payload: click });
    await s.t.waitFor(async () => s.slack.callsTo('views.open').find((c) => c.args.trigger_id === click.trigger_id), 10_000, 'modal');

    const responseUrl = s.slack.responseUrl();
    await s.slack.sendEnvelope({ type: 'slash_commands', payload: slashCommandFields({ userId: USERS.dave.id, text: `audit ${id}`, responseUrl }) });
    expect(text((await s.reply(responseUrl)).body.blocks)).toContain('request.submitted');
    expect(s.slack.callsTo('auth.test')).toHaveLength(0);
  });

  it('is ready once connected, and not while the connection is lost', async () => {
    await s.t.waitFor(async () => (await s.t.call('GET', '/readyz', { key: '' })).status === 200, 5_000, 'ready');
    expect((await s.t.call('GET', '/readyz', { key: '' })).body.checks.slack).toBe('ok');
    s.slack.dropSocketConnections();
    await s.t.waitFor(async () => (await s.t.call('GET', '/readyz', { key: '' })).status === 503, 5_000, 'not ready while disconnected');
    expect((await s.t.call('GET', '/readyz', { key: '' })).body.checks.slack).toMatch(/^unavailable: Slack Socket Mode connection lost/);
    // The client reconnects on its own (after its ping timeout), and the node is ready again.
    await s.t.waitFor(async () => (await s.t.call('GET', '/readyz', { key: '' })).status === 200, 20_000, 'ready after reconnecting');
    expect(s.slack.socketConnections()).toBe(1);
  }, 30_000);
});

describe('Socket Mode when Slack is not reachable at start-up', () => {
  let down: SlackTestApp;
  afterAll(async () => {
    await down?.close();
  });

  it('starts the service anyway and connects once Slack answers', async () => {
    down = await startSlackTestApp({
      env: { SLACK_APP_TOKEN: 'xapp-1-fake-app-token', SLACK_SIGNING_SECRET: '' },
      prepare: (slack) => slack.fail('apps.connections.open', { error: 'invalid_auth' }),
    });
    // The API works while Slack is away, but the node does not claim to be ready, and says why.
    expect((await down.t.call('GET', '/healthz', { key: '' })).status).toBe(200);
    expect((await down.t.call('GET', '/v1/requests', { key: down.t.keys.admin })).status).toBe(200);
    const notReady = await down.t.call('GET', '/readyz', { key: '' });
    expect(notReady.status).toBe(503);
    expect(notReady.body.checks).toMatchObject({ postgres: 'ok', redis: 'ok', migrations: 'ok', slack: 'unavailable: Slack Socket Mode cannot connect: Slack apps.connections.open: invalid_auth' });
    await down.t.waitFor(async () => down.slack.socketConnections() === 1, 10_000, 'Socket Mode connection after a retry');
    expect(down.slack.callsTo('apps.connections.open').map((c) => c.response.ok)).toEqual([false, true]);
    await down.t.waitFor(async () => (await down.t.call('GET', '/readyz', { key: '' })).status === 200, 5_000, 'ready once connected');
    expect((await down.t.call('GET', '/readyz', { key: '' })).body.checks.slack).toBe('ok');
  });
});
