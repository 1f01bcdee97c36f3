/**
 * Slack's configuration: its environment keys (defaults and meaning), the rules between them, when they switch the
 * adapter on, and which key says who may run audit look-ups. src/config/config.ts merges this into the one schema;
 * the adapter receives only these keys, parsed.
 */
import { z } from 'zod';
import type { PlatformConfig } from '../../src/channels/channel-module';
import { envInt, envOptionalString, hasValue, type ConfigOf } from '../../src/config/config-shape';

export const slackConfigShape = {
  SLACK_BOT_TOKEN: envOptionalString,
  SLACK_SIGNING_SECRET: envOptionalString,
  /** Socket Mode app-level token (xapp-…): receive events over a websocket instead of POST /slack/events. */
  SLACK_APP_TOKEN: envOptionalString,
  /** Web API root, e.g. https://slack-gov.com/api/ for GovSlack. */
  SLACK_API_URL: envOptionalString,
  /**
   * The one workspace (team id, T…) served; interactions from any other are refused. When unset, it is learned from
   * auth.test once when inbound traffic starts.
   */
  SLACK_TEAM_ID: envOptionalString,
  /** The bot's user and bot ids, handed to Bolt as its fixed authorization (Bolt never calls auth.test). */
  SLACK_BOT_USER_ID: envOptionalString,
  SLACK_BOT_ID: envOptionalString,
  SLACK_COMMAND: z.string().regex(/^\/[a-z0-9_-]+$/).default('/countersign'),
  /** Who may run audit look-ups from chat: comma-separated policy group names and/or Slack user group ids (S…). Empty: members of any policy group. */
  SLACK_AUDIT_ACCESS: envOptionalString,
  SLACK_USER_CACHE_SIZE: envInt(1, 1_000_000).default(5_000),
  SLACK_USER_CACHE_MS: envInt(0, 86_400_000).default(15 * 60_000),
  /** How long one Web API call may take before it counts as a (retryable) timeout. */
  SLACK_TIMEOUT_MS: envInt(100, 120_000).default(10_000),
};

export type SlackConfig = ConfigOf<typeof slackConfigShape>;

/** Slack user group ids (`S…`) in SLACK_AUDIT_ACCESS are checked by the adapter with usergroups.users.list. */
const SLACK_USER_GROUP = /^S[A-Z0-9]+$/;
const SLACK_TEAM = /^T[A-Z0-9]{2,30}$/;

export const slackConfig: PlatformConfig<typeof slackConfigShape> = {
  shape: slackConfigShape,
  problems(env) {
    const problems: string[] = [];
    if (hasValue(env, 'SLACK_BOT_TOKEN') && !hasValue(env, 'SLACK_SIGNING_SECRET') && !hasValue(env, 'SLACK_APP_TOKEN')) {
      problems.push('SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN (or set SLACK_APP_TOKEN for Socket Mode)');
    }
    if ((hasValue(env, 'SLACK_SIGNING_SECRET') || hasValue(env, 'SLACK_APP_TOKEN')) && !hasValue(env, 'SLACK_BOT_TOKEN')) {
      problems.push('SLACK_BOT_TOKEN: required when Slack is configured');
    }
    if (hasValue(env, 'SLACK_TEAM_ID') && !SLACK_TEAM.test(env.SLACK_TEAM_ID!.trim())) {
      problems.push('SLACK_TEAM_ID: a Slack workspace id looks like T0123ABCD');
    }
    return problems;
  },
  // On when it has what it needs: a bot token, and a signing secret (HTTP) or an app token (Socket Mode).
  enabled: (c) => Boolean(c.SLACK_BOT_TOKEN && (c.SLACK_SIGNING_SECRET || c.SLACK_APP_TOKEN)),
  auditAccess: { key: 'SLACK_AUDIT_ACCESS', isPlatformGroup: (entry) => SLACK_USER_GROUP.test(entry) },
};
