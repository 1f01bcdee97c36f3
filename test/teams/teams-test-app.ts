/**
 * The whole app (HTTP + workers, real Postgres and Redis) with the Teams adapter switched on and its Bot Connector
 * calls going to a local fake: inbound activities carry the fake's URL as `serviceUrl`, exactly as Teams sends its own.
 */
import { createTeamsModule, type TeamsModuleOptions } from '../../adapters/teams/teams-module';
import { teamsPlatform } from '../../adapters/teams/teams-platform';
import type { AnyChatPlatform } from '../../src/channels/channel-module';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/fake-bot-connector';
import { botInstalled, CHANNEL_ID, sendActivity, TEAMS_USERS, TENANT_ID } from '../fakes/teams-activities';
import { startTestApp, type TestApp } from '../support/start-app';
import type { TestDatabase } from '../support/test-database';

/** The test policy with cards routed to the Teams channel the bot is installed in. */
export const TEAMS_POLICY = `
version: 1
people:
  - id: mallory
    name: Mallory Outsider
    identities: [mallory@example.com]
groups:
  approvers:
    - alice@example.com
    - bob@example.com
    - carol@example.com
    - teams:00000000-0000-0000-0000-00000000e1e1
  security:
    - dave@example.com
  auditors:
    - carol@example.com
sensitiveContextKeys: [customer_email]
rules:
  - name: two-person-export
    match: { action: dataset.export }
    outcome: require
    approvers: [approvers]
    approvals: 2
    channels: ["teams:${CHANNEL_ID}"]
    reason: on-deny
  - name: one-person-deploy
    match: { action: "deploy.*" }
    outcome: require
    approvers: [approvers]
    approvals: 1
    channels: ["teams:${CHANNEL_ID}"]
    reason: on-deny
  - name: nowhere-to-post
    match: { action: db.migrate }
    outcome: require
    approvers: [approvers]
    approvals: 1
    channels: ["teams:19:0000notinstalled0000@thread.tacv2"]
    reason: none
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
  reason: none
`;

export interface TeamsTestApp {
  t: TestApp;
  fake: FakeBotConnector;
  /** POSTs an activity to /api/messages (no Authorization header: the adapter runs unauthenticated here). */
  send(activity: unknown, opts?: { authorization?: string }): Promise<{ status: number; body: any; text: string }>;
  close(): Promise<void>;
}

/** The registered Teams platform, built with extra module options (e.g. another cloud's Bot Framework settings). */
export function teamsPlatformWith(options: TeamsModuleOptions = {}): AnyChatPlatform {
  const platform: typeof teamsPlatform = { ...teamsPlatform, create: async (deps) => createTeamsModule(deps, options) };
  return platform;
}

/**
 * Starts the fake connector (knowing every {@link TEAMS_USERS} member) and the app with Teams enabled, and installs
 * the bot in {@link CHANNEL_ID} unless `install: false`.
 */
export async function startTeamsTestApp(
  opts: {
    env?: Record<string, string>;
    policyYaml?: string;
    install?: boolean;
    options?: TeamsModuleOptions | ((fake: FakeBotConnector) => TeamsModuleOptions);
    database?: TestDatabase;
  } = {},
): Promise<TeamsTestApp> {
  const fake = await startFakeBotConnector();
  for (const u of Object.values(TEAMS_USERS)) fake.addMember(u);
  let t: TestApp;
  try {
    t = await startTestApp({
      policyYaml: opts.policyYaml ?? TEAMS_POLICY,
      database: opts.database,
      // The tenant filter is on in every test, as it is in production (the fixtures' activities come from TENANT_ID).
      env: { TEAMS_ALLOW_UNAUTHENTICATED: 'true', MICROSOFT_APP_TENANT_ID: TENANT_ID, TEAMS_AUDIT_ACCESS: 'auditors', ...opts.env },
      platforms: [teamsPlatformWith(typeof opts.options === 'function' ? opts.options(fake) : opts.options)],
    });
  } catch (err) {
    await fake.close();
    throw err;
  }
  const send = (activity: unknown, o: { authorization?: string } = {}) => sendActivity(t.baseUrl, activity, o);
  if (opts.install !== false) {
    const res = await send(botInstalled(fake.url));
    if (res.status !== 200) throw new Error(`installing the bot answered ${res.status}: ${res.text}`);
  }
  return {
    t,
    fake,
    send,
    async close() {
      await t?.close();
      await fake.close();
    },
  };
}

/** The Adaptive Card in an activity the bot sent. */
export function cardOf(activity: any): any {
  const attachment = activity?.attachments?.find((a: any) => a.contentType === 'application/vnd.microsoft.card.adaptive');
  if (!attachment) throw new Error(`no Adaptive Card in ${JSON.stringify(activity)}`);
  return attachment.content;
}

/** Every text of a card (TextBlocks, and FactSet facts as `title: value`), for content assertions. */
export function cardText(card: unknown): string {
  const out: string[] = [];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    if (typeof o.text === 'string') out.push(o.text);
    if (typeof o.title === 'string' && typeof o.value === 'string') out.push(`${o.title}: ${o.value}`);
    Object.values(o).forEach(walk);
  };
  walk(card);
  return out.join('\n');
}
