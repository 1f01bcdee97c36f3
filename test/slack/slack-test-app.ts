/**
 * The whole service with the Slack adapter switched on and pointed at a fake Slack, plus the moves a Slack user makes
 * (click a button, submit the reason modal, run the slash command), each sent as Slack sends it, signed.
 */
import { slackPlatform } from '../../adapters/slack/slack-platform';
import { startFakeSlackApi, type FakeSlackApi, type FakeSlackMessage } from '../fakes/fake-slack-api';
import {
  blockActionsPayload,
  commandBody,
  interactionBody,
  postToSlack,
  slashCommandFields,
  viewSubmissionPayload,
  type SlackPostOptions,
} from '../fakes/slack-requests';
import { startTestApp, type TestApp } from '../support/start-app';
import type { TestDatabase } from '../support/test-database';

export const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
export const DATA_CHANNEL = 'C0000DATA';

export const SLACK_POLICY = `
version: 1
people:
  - id: mallory
    name: Mallory Outsider
    identities: [mallory@example.com]
groups:
  approvers: [alice@example.com, bob@example.com, carol@example.com, "slack:U0000ERIN"]
  auditors: [dave@example.com]
sensitiveContextKeys: [customer_email]
rules:
  - name: two-person-export
    match: { action: dataset.export }
    outcome: require
    approvers: [approvers]
    approvals: 2
    channels: ["slack:${DATA_CHANNEL}"]
    reason: on-deny
  - name: iam-needs-reason
    match: { action: "iam.*" }
    outcome: require
    approvers: [approvers]
    channels: ["slack:${DATA_CHANNEL}"]
    reason: always
  - name: broken-channel
    match: { action: "broken.*" }
    outcome: require
    approvers: [approvers]
    channels: ["slack:C0000GONE"]
  - name: single-approval
    match: { action: "deploy.*" }
    outcome: require
    approvers: [approvers]
    approvals: 1
    channels: ["slack:${DATA_CHANNEL}"]
    reason: on-deny
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
  reason: none
`;

/** Slack users of the fake workspace; frank is the person the test requests are made on behalf of. */
export const USERS = {
  alice: { id: 'U0000ALICE', name: 'alice', realName: 'Alice Example', email: 'alice@example.com' },
  bob: { id: 'U0000BOB', name: 'bob', realName: 'Bob Example', email: 'bob@example.com' },
  carol: { id: 'U0000CAROL', name: 'carol', realName: 'Carol Example', email: 'carol@example.com' },
  dave: { id: 'U0000DAVE', name: 'dave', realName: 'Dave Auditor', email: 'dave@example.com' },
  erin: { id: 'U0000ERIN', name: 'erin', realName: 'Erin NoEmail' },
  frank: { id: 'U0000FRANK', name: 'frank', realName: 'Frank Requester', email: 'frank@example.com' },
  mallory: { id: 'U0000MALLORY', name: 'mallory', realName: 'Mallory Outsider', email: 'mallory@example.com' },
} as const;
export type UserName = keyof typeof USERS;

export interface SlackTestApp {
  t: TestApp;
  slack: FakeSlackApi;
  eventsUrl: string;
  /** Submits a request with the agent key; returns its id. */
  submit(body: Record<string, unknown>): Promise<string>;
  /** Waits for the card of a request to be posted; returns the message as the fake holds it (live object). */
  card(requestId: string, channel?: string): Promise<FakeSlackMessage>;
  /** Clicks a card button as `who`; returns the HTTP answer and the response_url used for the ephemeral reply. */
  click(requestId: string, who: UserName, action?: 'countersign_approve' | 'countersign_deny' | 'countersign_approve_reason' | 'countersign_approve_standing', opts?: SlackPostOptions): Promise<{ status: number; ms: number; responseUrl: string; triggerId: string }>;
  /** Waits for the ephemeral reply posted to a response_url. */
  reply(responseUrl: string): Promise<{ body: any }>;
  /** Waits for the reason modal opened by a click, and submits it with a reason. */
  submitModal(triggerId: string, who: UserName, reason: string | null): Promise<{ status: number; privateMetadata: string }>;
  /** Runs the slash command as `who`. */
  command(who: UserName, text: string, opts?: SlackPostOptions): Promise<{ status: number; text: string; responseUrl: string }>;
  /** The request as the API shows it. */
  request(requestId: string): Promise<any>;
  /** Audit events of a request. */
  audit(requestId: string): Promise<any[]>;
  close(): Promise<void>;
}

/** Starts a fake Slack and the app configured for it. */
export async function startSlackTestApp(
  opts: { env?: Record<string, string> | ((slack: FakeSlackApi) => Record<string, string>); policyYaml?: string; prepare?: (slack: FakeSlackApi) => void; database?: TestDatabase } = {},
): Promise<SlackTestApp> {
  const slack = await startFakeSlackApi();
  for (const u of Object.values(USERS)) slack.addUser(u);
  slack.addChannel(DATA_CHANNEL);
  slack.setUserGroup('S0000AUDIT', [USERS.dave.id]);
  opts.prepare?.(slack);
  let t: TestApp;
  try {
    t = await startTestApp({
      policyYaml: opts.policyYaml ?? SLACK_POLICY,
      database: opts.database,
      platforms: [slackPlatform],
      env: {
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: slack.apiUrl,
        SLACK_AUDIT_ACCESS: 'S0000AUDIT',
        SLACK_TEAM_ID: slack.teamId,
        ...(typeof opts.env === 'function' ? opts.env(slack) : opts.env),
      },
    });
  } catch (err) {
    await slack.close();
    throw err;
  }
  const eventsUrl = `${t.baseUrl}/slack/events`;

  const self: SlackTestApp = {
    t,
    slack,
    eventsUrl,

    async submit(body) {
      const res = await t.submit(body);
      if (res.status !== 202 && res.status !== 201) throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id as string;
    },

    async card(requestId, channel = DATA_CHANNEL) {
      return t.waitFor(async () => slack.messagesIn(channel).find((m) => JSON.stringify(m.history[0].blocks ?? []).includes(requestId)), 10_000, `card of ${requestId}`);
    },

    async click(requestId, who, action = 'countersign_approve', postOpts = {}) {
      const card = slack.messagesIn(DATA_CHANNEL).find((m) => JSON.stringify(m.history[0].blocks ?? []).includes(requestId));
      const responseUrl = slack.responseUrl();
      const payload = blockActionsPayload({ requestId, userId: USERS[who].id, userName: USERS[who].name, actionId: action, channelId: DATA_CHANNEL, message: card, responseUrl });
      const res = await postToSlack(eventsUrl, SIGNING_SECRET, interactionBody(payload), postOpts);
      return { status: res.status, ms: res.ms, responseUrl, triggerId: payload.trigger_id as string };
    },

    async reply(responseUrl) {
      const id = slack.responseId(responseUrl);
      return t.waitFor(async () => slack.responses.find((r) => r.id === id), 10_000, `reply on ${responseUrl}`);
    },

    async submitModal(triggerId, who, reason) {
      const open = await t.waitFor(async () => slack.callsTo('views.open').find((c) => c.args.trigger_id === triggerId), 10_000, 'views.open');
      const privateMetadata = open.args.view.private_metadata as string;
      const payload = viewSubmissionPayload({ userId: USERS[who].id, privateMetadata, reason, title: open.args.view.title?.text });
      const res = await postToSlack(eventsUrl, SIGNING_SECRET, interactionBody(payload));
      return { status: res.status, privateMetadata };
    },

    async command(who, text, postOpts = {}) {
      const responseUrl = slack.responseUrl();
      const res = await postToSlack(eventsUrl, SIGNING_SECRET, commandBody(slashCommandFields({ userId: USERS[who].id, text, responseUrl })), postOpts);
      return { status: res.status, text: res.text, responseUrl };
    },

    async request(requestId) {
      return (await t.call('GET', `/v1/requests/${requestId}`)).body;
    },

    async audit(requestId) {
      return (await t.call('GET', `/v1/audit?requestId=${requestId}&limit=200`)).body.items;
    },

    async close() {
      await t.close();
      await slack.close();
    },
  };
  return self;
}
