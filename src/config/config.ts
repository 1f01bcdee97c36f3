/**
 * The one configuration schema. Parsed once at start-up by the composition root; every problem is reported together
 * so an operator fixes them in one pass. There are no default secrets: keys, tokens and signing secrets have no
 * defaults, and features that need them stay off until they are set. `.env.example` lists every key below.
 */
import { z } from 'zod';
import { ConfigError } from './config-error';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() ? v.trim() : undefined));

export const configSchema = z
  .object({
    // --- core service
    PORT: int(0, 65535).default(3000),
    HOST: z.string().default('0.0.0.0'),
    /** all = HTTP + workers; api = HTTP only; worker = queues and reconciler only (plus health/metrics). */
    RUN_MODE: z.enum(['all', 'api', 'worker']).default('all'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/countersign'),
    DATABASE_POOL_SIZE: int(1, 200).default(20),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** Prefix of every Redis key (BullMQ queues, pub/sub), so several deployments can share one Redis. */
    REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('countersign'),
    POLICY_FILE: z.string().default('./policy.example.yaml'),
    /** Bootstrap API keys: comma-separated `name:secret[:scopes[:owner email]]`, scopes joined by `+`. */
    API_KEYS: optionalString,
    /** How long a validated API key is trusted before it is looked up again (revocation takes effect within this). */
    API_KEY_CACHE_MS: int(0, 300_000).default(5_000),
    /** Base URL clients use to reach this service; used in `links`. Defaults to http://localhost:PORT. */
    PUBLIC_BASE_URL: optionalString,
    BODY_LIMIT_BYTES: int(1024, 10 * 1024 * 1024).default(64 * 1024),
    DEFAULT_TTL_SECONDS: int(60, 30 * 24 * 3600).default(3600),
    MAX_TTL_SECONDS: int(60, 30 * 24 * 3600).default(7 * 24 * 3600),
    /** Longest `?wait=` long-poll a client may ask for. */
    MAX_WAIT_SECONDS: int(0, 300).default(60),
    /** HMAC-SHA256 key that signs result callbacks; requests with a callbackUrl are refused while it is unset. */
    CALLBACK_SIGNING_SECRET: optionalString,
    CALLBACK_TIMEOUT_MS: int(100, 60_000).default(5_000),
    WORKER_CONCURRENCY: int(1, 100).default(10),
    /** Attempts for a delivery, card update, notification or callback before it is recorded as failed. */
    DELIVERY_ATTEMPTS: int(1, 50).default(8),
    DELIVERY_BACKOFF_MS: int(10, 600_000).default(2_000),
    RECONCILE_INTERVAL_MS: int(1_000, 3_600_000).default(60_000),
    SHUTDOWN_TIMEOUT_MS: int(1_000, 600_000).default(25_000),

    // --- Slack (adapter on when SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or SLACK_APP_TOKEN, are set)
    SLACK_BOT_TOKEN: optionalString,
    SLACK_SIGNING_SECRET: optionalString,
    /** Socket Mode app-level token (xapp-…): receive events over a websocket instead of POST /slack/events. */
    SLACK_APP_TOKEN: optionalString,
    /** Web API root, e.g. https://slack-gov.com/api/ for GovSlack. */
    SLACK_API_URL: optionalString,
    /** The bot's user and bot ids; when set, Bolt never calls auth.test. */
    SLACK_BOT_USER_ID: optionalString,
    SLACK_BOT_ID: optionalString,
    SLACK_COMMAND: z.string().regex(/^\/[a-z0-9_-]+$/).default('/countersign'),
    /** Who may run audit look-ups from chat: comma-separated policy group names and/or Slack user group ids (S…). Empty: members of any policy group. */
    SLACK_AUDIT_ACCESS: optionalString,
    SLACK_USER_CACHE_SIZE: int(1, 1_000_000).default(5_000),
    SLACK_USER_CACHE_MS: int(0, 86_400_000).default(15 * 60_000),

    // --- Microsoft Teams (adapter on when MICROSOFT_APP_ID is set, or TEAMS_ALLOW_UNAUTHENTICATED=true)
    MICROSOFT_APP_ID: optionalString,
    MICROSOFT_APP_PASSWORD: optionalString,
    MICROSOFT_APP_TENANT_ID: optionalString,
    MICROSOFT_APP_TYPE: z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).default('MultiTenant'),
    /** Local development and tests only: accept Teams traffic without Bot Framework authentication. */
    TEAMS_ALLOW_UNAUTHENTICATED: bool.default(false),
    /** Who may run audit look-ups from Teams: comma-separated policy group names. Empty: members of any policy group. */
    TEAMS_AUDIT_ACCESS: optionalString,
    TEAMS_MEMBER_CACHE_SIZE: int(1, 1_000_000).default(5_000),
    TEAMS_MEMBER_CACHE_MS: int(0, 86_400_000).default(15 * 60_000),
  })
  ;

/**
 * Rules between keys. Checked on the raw environment as well as the schema, so they are reported together with
 * per-key problems instead of only after those are fixed (zod skips refinements when a field fails).
 */
function crossProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  const has = (k: string) => Boolean(env[k]?.trim());
  if (Number(env.DEFAULT_TTL_SECONDS ?? 3600) > Number(env.MAX_TTL_SECONDS ?? 604800)) problems.push('DEFAULT_TTL_SECONDS: must not exceed MAX_TTL_SECONDS');
  if (has('SLACK_BOT_TOKEN') && !has('SLACK_SIGNING_SECRET') && !has('SLACK_APP_TOKEN')) problems.push('SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN (or set SLACK_APP_TOKEN for Socket Mode)');
  if ((has('SLACK_SIGNING_SECRET') || has('SLACK_APP_TOKEN')) && !has('SLACK_BOT_TOKEN')) problems.push('SLACK_BOT_TOKEN: required when Slack is configured');
  const appType = env.MICROSOFT_APP_TYPE ?? 'MultiTenant';
  if (has('MICROSOFT_APP_ID') && !has('MICROSOFT_APP_PASSWORD') && appType !== 'UserAssignedMSI') problems.push('MICROSOFT_APP_PASSWORD: required with MICROSOFT_APP_ID');
  if (appType === 'SingleTenant' && has('MICROSOFT_APP_ID') && !has('MICROSOFT_APP_TENANT_ID')) problems.push('MICROSOFT_APP_TENANT_ID: required for a SingleTenant app');
  return problems;
}

export type Config = z.output<typeof configSchema>;

export { ConfigError };

/** Parses the environment. Throws {@link ConfigError} naming every bad key; secrets' values are never echoed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset" (a blank line in .env), so defaults still apply.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`)),
    ...crossProblems(cleaned),
  ];
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}

/**
 * Splits an audit-access setting (SLACK_AUDIT_ACCESS, TEAMS_AUDIT_ACCESS) into policy group names and Slack user group
 * ids (`S…`). `policyGroups` is null when the setting is empty: then members of any policy group may audit.
 */
export function parseAuditAccess(text: string | undefined): { policyGroups: string[] | null; slackUserGroups: string[] } {
  const entries = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) return { policyGroups: null, slackUserGroups: [] };
  const isSlackGroup = (s: string) => /^S[A-Z0-9]+$/.test(s);
  return { policyGroups: entries.filter((s) => !isSlackGroup(s)), slackUserGroups: entries.filter(isSlackGroup) };
}

/** The Slack adapter runs when it has what it needs; the Teams adapter when it has credentials or is explicitly open. */
export function enabledChannels(c: Config): Record<string, boolean> {
  return {
    slack: Boolean(c.SLACK_BOT_TOKEN && (c.SLACK_SIGNING_SECRET || c.SLACK_APP_TOKEN)),
    teams: Boolean(c.MICROSOFT_APP_ID || c.TEAMS_ALLOW_UNAUTHENTICATED),
  };
}
