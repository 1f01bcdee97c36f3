/**
 * Issue 8's chat reproductions, with Slack AND Teams switched on in one app (real Bolt and botbuilder against the local
 * fakes): the key owner approving their own agent's request from chat under identities that do not share an email,
 * one person meeting a quorum of two from two platforms, and chat audit look-ups closed by default and recorded.
 */
import { slackPlatform } from '../../adapters/slack/slack-platform';
import { teamsPlatform } from '../../adapters/teams/teams-platform';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/fake-bot-connector';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/fake-slack-api';
import { blockActionsPayload, commandBody, interactionBody, postToSlack, slashCommandFields } from '../fakes/slack-requests';
import { botInstalled, cardAction, personalInstall, personalMessage, sendActivity, TEAMS_USERS, TENANT_ID, type TeamsTestUser } from '../fakes/teams-activities';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';
import { cardText } from '../teams/teams-test-app';

const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const CHANNEL = 'C0000DATA';

/** Teams users whose sign-in names share no email with their Slack or key identities. */
const CAROL_TEAMS: TeamsTestUser = { ...TEAMS_USERS.carol, id: '29:1carol-contoso', aadObjectId: 'ca201000-0000-4000-8000-0000000c0a01', email: 'carol@contoso.onmicrosoft.com', userPrincipalName: 'carol@contoso.onmicrosoft.com', personalConversationId: 'a:1carol-contoso' };
const OWNER_GUEST: TeamsTestUser = { ...TEAMS_USERS.alice, id: '29:1owner-guest', name: 'Olive Owner (Guest)', aadObjectId: '0e0e0e0e-0000-4000-8000-00000000000e', email: undefined, userPrincipalName: 'owner_example.com#EXT#@contoso.onmicrosoft.com', personalConversationId: 'a:1owner-guest' };
const STRANGER_GUEST: TeamsTestUser = { ...TEAMS_USERS.alice, id: '29:1stranger', name: 'Sam Stranger (Guest)', aadObjectId: '5e5e5e5e-0000-4000-8000-00000000005e', email: undefined, userPrincipalName: 'sam_elsewhere.example#EXT#@contoso.onmicrosoft.com', personalConversationId: 'a:1stranger' };

const POLICY = `
version: 1
people:
  - id: owner
    name: Olive Owner
    identities: [owner@example.com, "slack:U0000OWNER", "teams:${OWNER_GUEST.aadObjectId}"]
  - id: carol
    name: Carol Checker
    identities: [carol@example.com, "teams:${CAROL_TEAMS.aadObjectId}"]
  - id: frank
    name: Frank Requester
    identities: [frank@example.com, "slack:U0000FRANK2"]
groups:
  approvers: [alice@example.com, bob@example.com, carol, frank, "slack:U0000OWNER"]
  auditors: [carol]
rules:
  - name: two-person
    match: { action: dataset.export }
    outcome: require
    approvers: [approvers]
    approvals: 2
    channels: ["slack:${CHANNEL}"]
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
  channels: ["slack:${CHANNEL}"]
`;

let slack: FakeSlackApi;
let teams: FakeBotConnector;
let t: TestApp;
const OWNER_KEY = 'owner-agent-secret-0123456789ab';

beforeAll(async () => {
  slack = await startFakeSlackApi();
  slack.addChannel(CHANNEL);
  slack.addUser({ id: 'U0000ALICE', name: 'alice', realName: 'Alice Example', email: 'alice@example.com' });
  slack.addUser({ id: 'U0000BOB', name: 'bob', realName: 'Bob Example', email: 'bob@example.com' });
  slack.addUser({ id: 'U0000CAROL', name: 'carol', realName: 'Carol Example', email: 'carol@example.com' });
  // The owner's Slack profile carries another address than the key's owner; Frank's carries none.
  slack.addUser({ id: 'U0000OWNER', name: 'olive', realName: 'Olive Owner', email: 'owner@corp.example.com' });
  slack.addUser({ id: 'U0000FRANK2', name: 'frank', realName: 'Frank Requester' });
  teams = await startFakeBotConnector();
  for (const u of [CAROL_TEAMS, OWNER_GUEST, STRANGER_GUEST]) teams.addMember(u);
  t = await startTestApp({
    policyYaml: POLICY,
    platforms: [slackPlatform, teamsPlatform],
    env: {
      SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: SIGNING_SECRET, SLACK_API_URL: slack.apiUrl,
      TEAMS_ALLOW_UNAUTHENTICATED: 'true', MICROSOFT_APP_TENANT_ID: TENANT_ID,
      // Slack's audit access is left unset (closed); Teams grants it to the auditors group.
      TEAMS_AUDIT_ACCESS: 'auditors',
      API_KEYS: `owners-agent:${OWNER_KEY}:submit+read:owner@example.com,admin:admin-secret-0123456789abcdef:read+audit+admin`,
    },
  });
  expect((await sendActivity(t.baseUrl, botInstalled(teams.url))).status).toBe(200);
});
afterAll(async () => {
  await t?.close();
  await slack?.close();
  await teams?.close();
});

async function submit(body: Record<string, unknown>): Promise<string> {
  const res = await t.submit(body, { key: OWNER_KEY });
  expect(res.status).toBe(202);
  await t.waitFor(async () => slack.messagesIn(CHANNEL).some((m) => JSON.stringify(m.history[0].blocks ?? []).includes(res.body.id)), 10_000, 'card');
  return res.body.id;
}

/** Clicks Approve in Slack as `userId`; returns the ephemeral reply's text. */
async function slackClick(id: string, userId: string): Promise<string> {
  const responseUrl = slack.responseUrl();
  const res = await postToSlack(`${t.baseUrl}/slack/events`, SIGNING_SECRET, interactionBody(blockActionsPayload({ requestId: id, userId, actionId: 'countersign_approve', channelId: CHANNEL, responseUrl })));
  expect(res.status).toBe(200);
  const reply = await t.waitFor(async () => slack.responses.find((r) => r.id === slack.responseId(responseUrl)), 10_000, 'slack reply');
  return String(reply.body.text);
}

async function teamsClick(id: string, u: TeamsTestUser): Promise<string> {
  const res = await sendActivity(t.baseUrl, cardAction(teams.url, u, { verb: 'approve', requestId: id }));
  expect(res.status).toBe(200);
  return cardText(res.body.value);
}

const refusalsOf = async (id: string) => (await t.call('GET', `/v1/audit?requestId=${id}&type=vote.refused`)).body.items.map((e: { data: { refusal: string; person: string } }) => [e.data.refusal, e.data.person]);

describe('1. the key owner cannot approve their own agent from chat', () => {
  it('refuses their Slack click although their Slack email is not the key owner\'s', async () => {
    const id = await submit(baseRequest({ action: 'deploy.service', onBehalfOf: undefined }));
    expect(await slackClick(id, 'U0000OWNER')).toContain('Self-approval is not allowed: you are the owner of the API key');
    expect(await refusalsOf(id)).toEqual([['self_approval', 'owner']]);
  });

  it('refuses their Teams guest account', async () => {
    const id = await submit(baseRequest({ action: 'deploy.service', onBehalfOf: undefined }));
    expect(await teamsClick(id, OWNER_GUEST)).toContain('Self-approval is not allowed: you are the owner of the API key');
    expect(await refusalsOf(id)).toEqual([['self_approval', 'owner']]);
  });

  it('refuses the on-behalf-of person clicking in Slack with no email in their profile', async () => {
    const id = await submit(baseRequest({ action: 'deploy.service', onBehalfOf: { email: 'frank@example.com' } }));
    expect(await slackClick(id, 'U0000FRANK2')).toContain('you are the person the request is made on behalf of');
    expect(await refusalsOf(id)).toEqual([['self_approval', 'frank']]);
  });

  it('refuses a guest nobody linked to a person, and records who tried', async () => {
    const id = await submit(baseRequest({ action: 'deploy.service', onBehalfOf: undefined }));
    expect(await teamsClick(id, STRANGER_GUEST)).toContain('Countersign does not know who you are');
    const [[refusal, person]] = await refusalsOf(id);
    expect(refusal).toBe('unknown_approver');
    expect(person).toContain('sam_elsewhere.example');
  });
});

describe('2. one person counts once across Slack and Teams', () => {
  it('counts Carol once although her Teams sign-in name shares nothing with her Slack email', async () => {
    const id = await submit(baseRequest({ onBehalfOf: undefined }));
    expect(await slackClick(id, 'U0000CAROL')).toContain('Your approval was recorded (1 of 2)');
    expect(await teamsClick(id, CAROL_TEAMS)).toContain('You already voted to approve this request (via slack); each person counts once.');
    const detail = (await t.call('GET', `/v1/requests/${id}`)).body;
    expect(detail).toMatchObject({ status: 'pending', approvals: { received: 1, required: 2 } });
    expect(detail.votes.map((v: { personKey: string }) => v.personKey)).toEqual(['carol']);
    // Her Slack account was linked to her by the email Slack verified, and that link is on record.
    const linked = (await t.call('GET', '/v1/audit?type=person.linked')).body.items;
    expect(linked.map((e: { data: object }) => e.data)).toContainEqual(expect.objectContaining({ person: 'carol', identity: 'slack:T0000TEST/U0000CAROL', verifiedBy: 'slack-profile-email' }));
    // Someone else completes the quorum.
    expect(await slackClick(id, 'U0000BOB')).toContain('the request is now approved');
  });
});

describe('6. chat audit look-ups are closed by default, and every look-up is recorded', () => {
  it('refuses an approver in Slack (no audit access configured) and lets an auditor look up in Teams', async () => {
    const id = await submit(baseRequest({ onBehalfOf: undefined }));
    const responseUrl = slack.responseUrl();
    await postToSlack(`${t.baseUrl}/slack/events`, SIGNING_SECRET, commandBody(slashCommandFields({ userId: 'U0000ALICE', text: `audit ${id}`, responseUrl })));
    const reply = await t.waitFor(async () => slack.responses.find((r) => r.id === slack.responseId(responseUrl)), 10_000, 'slack reply');
    expect(JSON.stringify(reply.body)).toContain('You are not allowed to look up the audit trail');

    const lookups = async () => (await t.call('GET', `/v1/audit?requestId=${id}&type=audit.lookup`)).body.items.map((e: { channel: string; data: { allowed: boolean; person: string } }) => [e.channel, e.data.person, e.data.allowed]);
    await t.waitFor(async () => (await lookups()).length === 1, 5_000, 'the refused look-up on record');
    expect(await lookups()).toEqual([['slack', 'alice@example.com', false]]);

    // Carol is in the auditors group, which Teams' setting names: she may, and that is recorded too.
    expect((await sendActivity(t.baseUrl, personalInstall(teams.url, CAROL_TEAMS))).status).toBe(200);
    expect((await sendActivity(t.baseUrl, personalMessage(teams.url, CAROL_TEAMS, `audit ${id}`))).status).toBe(200);
    await t.waitFor(async () => (await lookups()).length === 2, 5_000, 'the allowed look-up on record');
    expect((await lookups())[1]).toEqual(['teams', 'carol', true]);
  });
});
