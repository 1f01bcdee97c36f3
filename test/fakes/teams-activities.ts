/**
 * Realistic Teams activities for tests, built from the JSON fixtures in test/fixtures/teams (shapes captured from
 * Teams: ids, channelData.tenant/team, mention entities, Universal Action invokes), with the serviceUrl pointing at
 * the fake Bot Connector. Also a tiny client that POSTs them to /api/messages the way the Bot Connector does.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TeamsMember } from './fake-bot-connector';

export const TENANT_ID = '9b2f3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d';
export const BOT_APP_ID = 'c1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8';
export const BOT_ID = `28:${BOT_APP_ID}`;
export const TEAM_ID = '19:2a3b4c5d6e7f48a9b0c1d2e3f4a5b6c7@thread.tacv2';
/** The team's "Approvals" channel, named by policies as `teams:<this>`. */
export const CHANNEL_ID = '19:7f0c1a2b3c4d4e5f9a8b7c6d5e4f3a2b@thread.tacv2';

export interface TeamsTestUser extends TeamsMember {
  /** The personal (1:1) chat id between this user and the bot. */
  personalConversationId: string;
}

function user(key: string, name: string, aadObjectId: string, email?: string): TeamsTestUser {
  const id = `29:1${Buffer.from(`${key}-teams-user-${aadObjectId}`).toString('base64url')}`;
  return {
    id,
    name,
    aadObjectId,
    email,
    userPrincipalName: email,
    givenName: name.split(' ')[0],
    surname: name.split(' ')[1] ?? '',
    tenantId: TENANT_ID,
    userRole: 'user',
    personalConversationId: `a:1${Buffer.from(`personal-${key}`).toString('base64url')}`,
  };
}

/** People of test/support/start-app.ts's TEST_POLICY, as Teams knows them. */
export const TEAMS_USERS = {
  alice: user('alice', 'Alice Approver', 'a11ce000-0000-4000-8000-000000000001', 'alice@example.com'),
  bob: user('bob', 'Bob Builder', 'b0b00000-0000-4000-8000-000000000002', 'bob@example.com'),
  carol: user('carol', 'Carol Checker', 'ca201000-0000-4000-8000-000000000003', 'carol@example.com'),
  dave: user('dave', 'Dave Security', 'da7e0000-0000-4000-8000-000000000004', 'dave@example.com'),
  /** Listed in the policy only by Teams id (`teams:…e1e1`), no email. */
  erin: user('erin', 'Erin Teamsonly', '00000000-0000-0000-0000-00000000e1e1'),
  /** The person requests are made on behalf of in baseRequest(). */
  frank: user('frank', 'Frank Requester', 'f4a4c000-0000-4000-8000-00000000000f', 'frank@example.com'),
  /** In no approver group. */
  mallory: user('mallory', 'Mallory Outsider', '3a11043e-0000-4000-8000-0000000000ff', 'mallory@example.com'),
};

export type FixtureName =
  | 'conversation-update-bot-added'
  | 'conversation-update-bot-removed'
  | 'installation-update-add-personal'
  | 'message-channel-mention'
  | 'message-personal'
  | 'invoke-adaptive-card-action';

const FIXTURES = path.resolve(__dirname, '../fixtures/teams');

/** Loads a fixture, filling in `{{TOKENS}}` (JSON-escaped) and applying top-level overrides. */
export function teamsActivity(name: FixtureName, vars: Record<string, string>, overrides: Record<string, unknown> = {}): any {
  const all: Record<string, string> = { TENANT_ID, BOT_ID, TEAM_ID, CONVERSATION_ID: CHANNEL_ID, ...vars };
  const text = readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (m, key: string) => {
    if (!(key in all)) throw new Error(`fixture ${name}: no value for {{${key}}}`);
    return JSON.stringify(all[key]).slice(1, -1);
  });
  return { ...JSON.parse(text), ...overrides };
}

function userVars(u: TeamsTestUser): Record<string, string> {
  return { USER_ID: u.id, USER_NAME: u.name, USER_AAD: u.aadObjectId };
}

/** The bot added to the team channel {@link CHANNEL_ID} (or another conversation). */
export function botInstalled(serviceUrl: string, conversationId = CHANNEL_ID): any {
  return teamsActivity('conversation-update-bot-added', { SERVICE_URL: serviceUrl, CONVERSATION_ID: conversationId });
}

export function botRemoved(serviceUrl: string, conversationId = CHANNEL_ID): any {
  return teamsActivity('conversation-update-bot-removed', { SERVICE_URL: serviceUrl, CONVERSATION_ID: conversationId });
}

/** A user installed the app for themselves (personal scope). */
export function personalInstall(serviceUrl: string, u: TeamsTestUser): any {
  return teamsActivity('installation-update-add-personal', { SERVICE_URL: serviceUrl, CONVERSATION_ID: u.personalConversationId, ...userVars(u) });
}

/** A message @mentioning the bot in the team channel. */
export function channelMessage(serviceUrl: string, u: TeamsTestUser, text: string, conversationId = CHANNEL_ID): any {
  return teamsActivity('message-channel-mention', { SERVICE_URL: serviceUrl, CONVERSATION_ID: conversationId, TEXT: text, ...userVars(u) });
}

/** A message in the user's personal chat with the bot. */
export function personalMessage(serviceUrl: string, u: TeamsTestUser, text: string): any {
  return teamsActivity('message-personal', { SERVICE_URL: serviceUrl, CONVERSATION_ID: u.personalConversationId, TEXT: text, ...userVars(u) });
}

/** A click on a card's Action.Execute button (`approve`, `deny`, or the automatic `refresh`). */
export function cardAction(
  serviceUrl: string,
  u: TeamsTestUser,
  opts: { verb: string; requestId: string; replyToId?: string; reason?: string; conversationId?: string; data?: Record<string, unknown> },
): any {
  const activity = teamsActivity('invoke-adaptive-card-action', {
    SERVICE_URL: serviceUrl,
    CONVERSATION_ID: opts.conversationId ?? CHANNEL_ID,
    REPLY_TO_ID: opts.replyToId ?? '1763723000000',
    REQUEST_ID: opts.requestId,
    VERB: opts.verb,
    TITLE: opts.verb === 'approve' ? 'Approve' : opts.verb === 'deny' ? 'Deny' : 'Refresh',
    ...userVars(u),
  });
  // Teams merges the card's input values into action.data.
  if (opts.reason !== undefined) activity.value.action.data.reason = opts.reason;
  if (opts.data) Object.assign(activity.value.action.data, opts.data);
  if (opts.verb === 'refresh') activity.value.trigger = 'automatic';
  return activity;
}

/** POSTs an activity to the bot endpoint as the Bot Connector would. */
export async function sendActivity(baseUrl: string, activity: unknown, opts: { authorization?: string; path?: string } = {}): Promise<{ status: number; body: any; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (opts.authorization) headers.authorization = opts.authorization;
  const res = await fetch(`${baseUrl.replace(/\/$/, '')}${opts.path ?? '/api/messages'}`, { method: 'POST', headers, body: JSON.stringify(activity) });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* plain text (e.g. botbuilder's 401 message) */
  }
  return { status: res.status, body, text };
}
