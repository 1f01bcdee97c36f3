/**
 * The one configuration schema: the core's keys here, plus every registered chat platform's keys (each platform's
 * `*-config.ts`, listed in src/platforms.ts). Parsed once at start-up by the composition root; every problem, the
 * platforms' included, is reported together so an operator fixes them in one pass. There are no default secrets:
 * keys, tokens and signing secrets have no defaults, and features that need them stay off until they are set.
 * `.env.example` lists every key.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { platforms } from '../platforms';
import { ConfigError } from './config-error';
import { envBool, envInt as int, envOptionalString as optionalString, hasValue, type ConfigOf, type ConfigShape, type RawEnv } from './config-shape';

const coreShape = {
    // --- core service
    PORT: int(0, 65535).default(3000),
    HOST: z.string().default('0.0.0.0'),
    /** all = HTTP + workers; api = HTTP only; worker = queues and reconciler only (plus health/metrics). */
    RUN_MODE: z.enum(['all', 'api', 'worker']).default('all'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** What the service connects as: the runtime role, which may append to the audit trail but never change it. */
    DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/countersign'),
    /** What `npm run db:migrate` connects as: the owner of the tables. Defaults to DATABASE_URL. */
    MIGRATION_DATABASE_URL: z.string().url().optional(),
    DATABASE_POOL_SIZE: int(1, 200).default(20),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** Prefix of every Redis key (BullMQ queues, pub/sub), so several deployments can share one Redis. */
    REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('countersign'),
    POLICY_FILE: z.string().default('./policy.example.yaml'),
    /** How often the policy file is checked for changes (a change is validated, then put in force); 0: only on SIGHUP. */
    POLICY_WATCH_INTERVAL_MS: int(0, 3_600_000).default(2_000),
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
    /**
     * How long a job a worker claimed stays locked without renewal (renewed every half of it). After a worker dies, its
     * job is taken back within about WORKER_LOCK_MS + WORKER_STALLED_CHECK_MS; an event loop blocked longer than the
     * lock makes BullMQ think a live worker died.
     */
    WORKER_LOCK_MS: int(2_000, 600_000).default(8_000),
    /** How often each worker looks for claimed jobs whose lock expired (their worker died). */
    WORKER_STALLED_CHECK_MS: int(500, 600_000).default(4_000),
    SHUTDOWN_TIMEOUT_MS: int(1_000, 600_000).default(25_000),

    // --- separation of duties and limits (see README, Separation of duties)
    /** Hosts result callbacks may reach (comma-separated `host`, `*.domain`, `host:port`); empty: any public host. */
    CALLBACK_ALLOWED_HOSTS: optionalString,
    /** How often a node checks whether the people directory changed elsewhere (CLI, another node). */
    DIRECTORY_REFRESH_MS: int(200, 600_000).default(5_000),
    /** Intakes per API key per minute, across every API node (0: no limit). */
    INTAKE_RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).default(600),
    /** Pending requests one API key may have at once (0: no limit). */
    MAX_PENDING_PER_KEY: int(0, 1_000_000).default(500),
    /** Concurrent `?wait=` long-polls one API key may hold (0: no limit). */
    LONG_POLLS_PER_KEY: int(0, 100_000).default(100),
    /** Failed authentications one address may make per minute before it is refused with 429 (0: no limit). */
    AUTH_FAILURES_PER_MINUTE: int(0, 100_000).default(30),
    // --- transparency log (src/evidence)
    /** Where files the service creates live: a generated signing key, the file checkpoint sink. */
    DATA_DIR: z.string().default('./.countersign'),
    /** How soon after its commit an audit event is sealed into a signed checkpoint. */
    AUDIT_SEAL_INTERVAL_MS: int(50, 60_000).default(1_000),
    /** Ed25519 private key, PEM/PKCS#8 file. Neither this nor SIGNING_KEY: generated into DATA_DIR/signing-key.pem. */
    SIGNING_KEY_FILE: optionalString,
    /** Ed25519 private key inline: base64 PKCS#8 DER, base64 32-byte seed, PEM, or PRIVATE+KEY+… (a secret). */
    SIGNING_KEY: optionalString,
    /** Public keys still trusted after a rotation: comma-separated verifier keys (name+id+base64) or base64 keys. */
    SIGNING_KEY_RETIRED: optionalString,
    /** The log's origin line and key name; default: host of PUBLIC_BASE_URL + /audit. Fixed by the first checkpoint. */
    CHECKPOINT_ORIGIN: optionalString,
    /** File sink: each checkpoint is written once as <size>.checkpoint here. Default DATA_DIR/checkpoints. */
    CHECKPOINT_DIR: optionalString,
    /** Webhook sink: each checkpoint is POSTed here, signed (Ed25519 over the body). */
    CHECKPOINT_WEBHOOK_URL: z.string().url().optional(),

    // --- web console (src/services/console-*.ts, README "Web console")
    /** Serve the web console under /console (sign-in by one-time CLI link always; by the IdP when OIDC_* are set). */
    CONSOLE_ENABLED: envBool.default(true),
    /** The organisation's OpenID Connect issuer (discovery at <issuer>/.well-known/openid-configuration). */
    OIDC_ISSUER: z.string().url().optional(),
    OIDC_CLIENT_ID: optionalString,
    /** Client secret (client_secret_basic); leave unset for a public client (PKCE alone). A secret. */
    OIDC_CLIENT_SECRET: optionalString,
    /** How long a console session lasts, in seconds (no sliding renewal). */
    CONSOLE_SESSION_TTL: int(60, 7 * 24 * 3600).default(8 * 3600),
    /** High and critical requests are decided only within this many seconds of the IdP sign-in (step-up). */
    CONSOLE_STEP_UP_MAX_AGE_SECONDS: int(0, 24 * 3600).default(300),
    /** Policy groups (comma-separated) whose members may audit in the console: every request, trail, evidence. */
    CONSOLE_AUDITOR_GROUPS: optionalString,
    /** How long a one-time sign-in link from the CLI stays usable, in seconds. */
    CONSOLE_LINK_TTL_SECONDS: int(30, 24 * 3600).default(900),
    /** Mark the session cookie Secure. Only PUBLIC_BASE_URL http://localhost or http://127.0.0.1 may turn it off. */
    CONSOLE_COOKIE_SECURE: envBool.default(true),
    // --- tracing (src/observability/tracing.ts)
    /** OTLP/HTTP collector base URL: spans go to <url>/v1/traces. Unset: no spans are recorded. */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http(s) URL' }).optional(),
    OTEL_SERVICE_NAME: z.string().trim().min(1).max(200).default('countersign'),
};

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type PlatformShapes = UnionToIntersection<(typeof platforms)[number]['config']['shape']>;

/** Every platform's keys in one shape; two platforms claiming the same key is a build mistake, caught at load. */
function platformShapes(): PlatformShapes {
  const merged: Record<string, unknown> = {};
  for (const p of platforms) {
    for (const [key, schema] of Object.entries(p.config.shape)) {
      if (key in merged || key in coreShape) throw new Error(`configuration key ${key} is declared twice (platform ${p.kind})`);
      merged[key] = schema;
    }
  }
  return merged as PlatformShapes;
}

export const configSchema = z.object({ ...coreShape, ...platformShapes() });

/** Rules between core keys, checked on the raw environment like the platforms' (see PlatformConfig.problems). */
function coreProblems(env: RawEnv): string[] {
  const problems: string[] = [];
  if (Number(env.DEFAULT_TTL_SECONDS ?? 3600) > Number(env.MAX_TTL_SECONDS ?? 604800)) problems.push('DEFAULT_TTL_SECONDS: must not exceed MAX_TTL_SECONDS');
  if (hasValue(env, 'SIGNING_KEY') && hasValue(env, 'SIGNING_KEY_FILE')) problems.push('SIGNING_KEY: set SIGNING_KEY or SIGNING_KEY_FILE, not both');
  if (hasValue(env, 'CHECKPOINT_ORIGIN') && /[\s+]/.test(env.CHECKPOINT_ORIGIN!.trim())) problems.push('CHECKPOINT_ORIGIN: must contain neither spaces nor +');
  if (hasValue(env, 'OIDC_ISSUER') !== hasValue(env, 'OIDC_CLIENT_ID')) problems.push('OIDC_ISSUER: set OIDC_ISSUER and OIDC_CLIENT_ID together (or neither)');
  if (hasValue(env, 'OIDC_CLIENT_SECRET') && !hasValue(env, 'OIDC_ISSUER')) problems.push('OIDC_CLIENT_SECRET: set only with OIDC_ISSUER and OIDC_CLIENT_ID');
  if (/^(false|0|no)$/.test(env.CONSOLE_COOKIE_SECURE?.trim() ?? '')) {
    const host = (() => {
      try {
        const u = new URL(env.PUBLIC_BASE_URL?.trim() || `http://localhost:${env.PORT ?? 3000}`);
        return u.protocol === 'http:' ? u.hostname : null;
      } catch {
        return null;
      }
    })();
    if (host !== 'localhost' && host !== '127.0.0.1') problems.push('CONSOLE_COOKIE_SECURE: may be false only when PUBLIC_BASE_URL is http://localhost or http://127.0.0.1');
  }
  return problems;
}

export type Config = z.output<typeof configSchema>;

export { ConfigError };

/**
 * Loads `file` (default `.env` in the working directory) into process.env when it exists, as every entry point does
 * (service, CLI, `npm run db:migrate`), so they all see one configuration. Values already in the environment win
 * (Node's loader does not overwrite them).
 */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) process.loadEnvFile(file);
}

/** Empty strings mean "unset" (a blank line in .env), so defaults still apply. */
function withoutBlanks(env: NodeJS.ProcessEnv): RawEnv {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

/**
 * The two database URLs alone, for `npm run db:migrate`, which must not depend on the rest of the configuration
 * (a half-configured chat platform must not stop migrations).
 */
export function loadDatabaseUrls(env: NodeJS.ProcessEnv = process.env): { databaseUrl: string; migrationDatabaseUrl: string } {
  const parsed = z.object({ DATABASE_URL: coreShape.DATABASE_URL, MIGRATION_DATABASE_URL: coreShape.MIGRATION_DATABASE_URL }).safeParse(withoutBlanks(env));
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`));
  return { databaseUrl: parsed.data.DATABASE_URL, migrationDatabaseUrl: parsed.data.MIGRATION_DATABASE_URL ?? parsed.data.DATABASE_URL };
}

/** Parses the environment. Throws {@link ConfigError} naming every bad key; secrets' values are never echoed. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = withoutBlanks(env);
  const parsed = configSchema.safeParse(cleaned);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`)),
    ...coreProblems(cleaned),
    ...platforms.flatMap((p) => p.config.problems(cleaned)),
  ];
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  return parsed.data;
}

/** A platform's own keys out of the parsed configuration: all an adapter is given. */
export function configSlice<S extends ConfigShape>(config: Config, shape: S): ConfigOf<S> {
  const all = config as Record<string, unknown>;
  return Object.fromEntries(Object.keys(shape).map((key) => [key, all[key]])) as ConfigOf<S>;
}
