/**
 * The web console is one more channel under the same rules: with Slack switched on (real Bolt against the local fake),
 * a person who voted in the browser is refused in Slack and the other way round, and a key owner signed in to the
 * console cannot approve their own agent's request there either.
 */
import { slackPlatform } from '../../adapters/slack/slack-platform';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/fake-slack-api';
import { blockActionsPayload, interactionBody, postToSlack } from '../fakes/slack-requests';
import { ConsoleBrowser, startConsoleApp } from '../support/console-client';
import { baseRequest, type TestApp } from '../support/start-app';

const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const CHANNEL = 'C0000DATA';
const OWNER_KEY = 'owner-agent-secret-0123456789ab';

const POLICY = `
version: 1
people:
  - id: owner
    name: Olive Owner
    identities: [owner@example.com, "slack:U0000OWNER"]
  - id: carol
    name: Carol Checker
    identities: [carol@example.com, "slack:U0000CAROL"]
groups:
  approvers: [carol, bob@example.com, owner]
default:
  outcome: require
  approvers: [approvers]
  approvals: 2
  channels: ["slack:${CHANNEL}"]
`;

let slack: FakeSlackApi;
let t: TestApp;

beforeAll(async () => {
  slack = await startFakeSlackApi();
  slack.addChannel(CHANNEL);
  slack.addUser({ id: 'U0000CAROL', name: 'carol', realName: 'Carol Checker', email: 'carol@example.com' });
  slack.addUser({ id: 'U0000BOB', name: 'bob', realName: 'Bob Example', email: 'bob@example.com' });
  t = await startConsoleApp({
    policyYaml: POLICY,
    platforms: [slackPlatform],
    env: {
      SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl,
      API_KEYS: `owners-agent:${OWNER_KEY}:submit+read:owner@example.com,admin:admin-secret-0123456789abcdef:read+audit+admin`,
    },
  });
});
afterAll(async () => {
  await t?.close();
  await slack?.close();
});

async function submit(): Promise<string> {
  const res = await t.submit(baseRequest({ action: 'deploy.service', risk: 'low', onBehalfOf: undefined }), { key: OWNER_KEY });
  expect(res.status).toBe(202);
  await t.waitFor(async () => slack.messagesIn(CHANNEL).some((m) => JSON.stringify(m.history[0].blocks ?? []).includes(res.body.id)), 10_000, 'card');
  return res.body.id;
}

async function slackClick(id: string, userId: string): Promise<string> {
  const responseUrl = slack.responseUrl();
  const res = await postToSlack(`${t.baseUrl}/slack/events`, SIGNING_SECRET, interactionBody(blockActionsPayload({ requestId: id, userId, actionId: 'countersign_approve', channelId: CHANNEL, responseUrl })));
  expect(res.status).toBe(200);
  const reply = await t.waitFor(async () => slack.responses.find((r) => r.id === slack.responseId(responseUrl)), 10_000, 'slack reply');
  return String(reply.body.text);
}

it('counts Carol once whether she votes in the browser or in Slack first', async () => {
  const carol = await new ConsoleBrowser(t).signInWithLink('carol');
  const first = await submit();
  expect(await carol.post(`/console/api/requests/${first}/decisions`, { decision: 'approve' })).toMatchObject({ status: 201, body: { approvals: { received: 1 } } });
  expect(await slackClick(first, 'U0000CAROL')).toContain('You already voted to approve this request (via web); each person counts once.');

  const second = await submit();
  expect(await slackClick(second, 'U0000CAROL')).toContain('Your approval was recorded (1 of 2)');
  const web = await carol.post(`/console/api/requests/${second}/decisions`, { decision: 'approve' });
  expect(web).toMatchObject({ status: 409, body: { code: 'already_voted' } });
  expect(web.body.message).toContain('(via slack)');
  expect((await t.call('GET', `/v1/requests/${second}`)).body.votes.map((v: any) => [v.personKey, v.channel])).toEqual([['carol', 'slack']]);
  // Her inbox no longer offers it.
  expect((await carol.get('/console/api/inbox')).body.items.map((r: any) => r.id)).not.toContain(second);
});

it('refuses the agent\'s key owner in the console, and records it', async () => {
  const owner = await new ConsoleBrowser(t).signInWithLink('slack:U0000OWNER');
  expect((await owner.get('/console/api/session')).body.person).toEqual({ id: 'owner', name: 'Olive Owner' });
  const id = await submit();
  expect((await owner.get('/console/api/inbox')).body.items.map((r: any) => r.id)).not.toContain(id);
  const res = await owner.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' });
  expect(res).toMatchObject({ status: 403, body: { code: 'self_approval' } });
  expect(res.body.message).toContain('the owner of the API key');
  const refused = (await t.call('GET', `/v1/audit?requestId=${id}&type=vote.refused`)).body.items;
  expect(refused.map((e: any) => [e.channel, e.data.refusal, e.data.person])).toEqual([['web', 'self_approval', 'owner']]);
});
