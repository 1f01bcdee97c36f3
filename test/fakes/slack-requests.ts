/**
 * Inbound Slack traffic for tests, built as Slack builds it: realistic payloads from test/fixtures/slack, the same
 * encodings (interactivity as `payload=<JSON>` form field, slash commands as plain form fields, events as JSON) and
 * the v0 signature (`v0=` + HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`)).
 */
import { createHmac } from 'node:crypto';
import blockActionsFixture from '../fixtures/slack/block-actions.json';
import slashCommandFixture from '../fixtures/slack/slash-command.json';
import viewSubmissionFixture from '../fixtures/slack/view-submission.json';

export const FORM = 'application/x-www-form-urlencoded';

/** Slack's request signature over the exact body bytes. */
export function slackSignature(signingSecret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

/** Headers Slack sends with a signed request. */
export function signedHeaders(signingSecret: string, rawBody: string, opts: { timestamp?: number; contentType?: string } = {}): Record<string, string> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    'content-type': opts.contentType ?? FORM,
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': slackSignature(signingSecret, timestamp, rawBody),
    'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
  };
}

/** Interactivity bodies: one form field `payload` holding the JSON. */
export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/** Slash command bodies: plain form fields. */
export function commandBody(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

export interface SlackPostOptions {
  /** Sign with this secret (default: the one given); `null` sends no signature headers at all. */
  signWith?: string | null;
  timestamp?: number;
  contentType?: string;
  /** Overrides the computed signature (forgery tests). */
  signature?: string;
}

/** POSTs a raw body to the app's Slack endpoint, signed as Slack would (unless told otherwise). */
export async function postToSlack(url: string, signingSecret: string, rawBody: string, opts: SlackPostOptions = {}): Promise<{ status: number; text: string; json: any; ms: number }> {
  let headers: Record<string, string> = { 'content-type': opts.contentType ?? FORM };
  if (opts.signWith !== null) headers = signedHeaders(opts.signWith ?? signingSecret, rawBody, { timestamp: opts.timestamp, contentType: opts.contentType });
  if (opts.signature) headers['x-slack-signature'] = opts.signature;
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body: rawBody });
  const text = await res.text();
  const ms = performance.now() - started;
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, ms };
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

export interface ClickOptions {
  requestId: string;
  userId: string;
  userName?: string;
  actionId?: string;
  channelId?: string;
  /** The message the button sits on (as the fake stored it): Slack echoes it in the payload. */
  message?: { ts: string; text?: string; blocks?: unknown[] };
  responseUrl?: string;
  triggerId?: string;
  /** The workspace the click comes from, and the clicking user's own (another organisation's, in a shared channel). */
  teamId?: string;
  userTeamId?: string;
}

/** A block_actions payload for a click on the card's Approve/Deny button. */
export function blockActionsPayload(o: ClickOptions): Record<string, any> {
  const p = clone(blockActionsFixture) as Record<string, any>;
  const actionId = o.actionId ?? 'countersign_approve';
  const deny = actionId === 'countersign_deny';
  p.user = { id: o.userId, username: o.userName ?? o.userId.toLowerCase(), name: o.userName ?? o.userId.toLowerCase(), team_id: o.userTeamId ?? o.teamId ?? 'T0000TEST' };
  if (o.teamId) p.team = { ...p.team, id: o.teamId };
  if (o.channelId) {
    p.channel.id = o.channelId;
    p.container.channel_id = o.channelId;
  }
  if (o.message) {
    p.container.message_ts = o.message.ts;
    p.message = { ...p.message, ts: o.message.ts, text: o.message.text ?? p.message.text, blocks: o.message.blocks ?? [] };
  }
  if (o.responseUrl) p.response_url = o.responseUrl;
  p.trigger_id = o.triggerId ?? `${Date.now()}.5364741236656.${Math.random().toString(16).slice(2, 18)}`;
  p.actions = [{
    ...p.actions[0],
    action_id: actionId,
    block_id: `countersign_decide:${o.requestId}`,
    value: o.requestId,
    text: { type: 'plain_text', text: deny ? 'Deny' : 'Approve', emoji: true },
    style: deny ? 'danger' : 'primary',
    action_ts: `${(Date.now() / 1000).toFixed(6)}`,
  }];
  return p;
}

/** A view_submission payload for the reason modal, carrying the metadata the adapter put in it. */
export function viewSubmissionPayload(o: { userId: string; privateMetadata: string; reason: string | null; title?: string; teamId?: string }): Record<string, any> {
  const p = clone(viewSubmissionFixture) as Record<string, any>;
  p.user = { id: o.userId, username: o.userId.toLowerCase(), name: o.userId.toLowerCase(), team_id: o.teamId ?? 'T0000TEST' };
  if (o.teamId) {
    p.team = { ...p.team, id: o.teamId };
    p.view = { ...p.view, team_id: o.teamId };
  }
  p.view.private_metadata = o.privateMetadata;
  p.view.state.values.reason.reason_input.value = o.reason;
  if (o.title) p.view.title.text = o.title;
  return p;
}

/** Slash command form fields. */
export function slashCommandFields(o: { userId: string; text: string; command?: string; responseUrl?: string; channelId?: string; teamId?: string }): Record<string, string> {
  const f = clone(slashCommandFixture) as Record<string, string>;
  if (o.teamId) f.team_id = o.teamId;
  f.user_id = o.userId;
  f.user_name = o.userId.toLowerCase();
  f.text = o.text;
  if (o.command) f.command = o.command;
  if (o.responseUrl) f.response_url = o.responseUrl;
  if (o.channelId) f.channel_id = o.channelId;
  return f;
}
