/**
 * API keys: bootstrapped from API_KEYS, created and revoked with the CLI. Only SHA-256 digests of secrets are stored;
 * a presented key is found by its digest, so no secret ever needs comparing in clear.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ConfigError } from '../config/config-error';
import { AppError } from '../domain/app-error';
import type { AuditEventInput } from '../domain/audit-event';
import { isIdentity, parseIdentity, PERSON_ID_PATTERN } from '../domain/people';
import { REQUESTER_TYPES, type RequesterType } from '../domain/policy';
import type { ApiKeyRecord, ApiKeySettings, ApiKeyStore } from '../store/api-key-store';
import type { AuditService } from './audit-service';

/**
 * What a key may do. `submit`: ask for approvals (the agent). `read`: read its own requests (all of them with `decide`,
 * `attest` or `audit`). `decide`: vote as the key's owner. `attest`: vote naming another person, for a trusted
 * integration that authenticated its user (recorded on every vote). `execute`: record the use of approval grants (the
 * system that runs approved actions). `audit`: read the audit trail. `admin`: manage the people directory. A key never
 * holds `submit` together with `decide` or `attest`.
 */
export const SCOPES = ['submit', 'read', 'decide', 'attest', 'execute', 'audit', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
const DEFAULT_SCOPES: Scope[] = ['submit', 'read'];

/** Fields a key can pin: taken from the key, never from the agent's body. */
export interface KeyPins {
  requesterId?: string;
  requesterType?: RequesterType;
  environment?: string;
}

/** Per-key overrides of the intake limits (unset: the server's defaults). */
export interface KeyLimits {
  ratePerMinute?: number;
  maxPending?: number;
  longPolls?: number;
}

export interface ApiPrincipal {
  id: string;
  name: string;
  scopes: Scope[];
  /** The person responsible for the key (a person id or one of their identities), resolved through the directory. */
  owner: string | null;
  pins: KeyPins;
  /** Hosts this key's callbacks may reach, on top of CALLBACK_ALLOWED_HOSTS. */
  callbackHosts: string[];
  limits: KeyLimits;
}

export interface BootstrapKey {
  name: string;
  secret: string;
  scopes: Scope[];
  owner: string | null;
}

/** A person reference: a person id or an identity in notation; returns why not when it is neither. */
export function personRefProblem(ref: string): string | undefined {
  if (PERSON_ID_PATTERN.test(ref)) return undefined;
  const parsed = parseIdentity(ref);
  return isIdentity(parsed) ? undefined : parsed.error;
}

/**
 * The separation-of-duties rules for a key's scopes: a key that can submit cannot vote (it could approve its own
 * requests by naming someone else), and a key that submits or votes belongs to a person (whose own requests it then
 * cannot approve). Returns every problem.
 */
export function keyScopeProblems(scopes: readonly Scope[], owner: string | null): string[] {
  const problems: string[] = [];
  const has = (s: Scope) => scopes.includes(s);
  if (has('submit') && (has('decide') || has('attest'))) problems.push('a key never holds `submit` together with `decide` or `attest`: use one key for the agent and another for the approval portal');
  for (const s of ['submit', 'decide', 'attest'] as const) {
    if (has(s) && !owner) problems.push(`a key with \`${s}\` must have an owner (the person responsible for it)`);
  }
  if (has('decide') && has('attest')) problems.push('a key holds `decide` (vote as its owner) or `attest` (vote for others), not both');
  return problems;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A fresh key: `cs_` + 32 random bytes. */
export function generateSecret(): string {
  return `cs_${randomBytes(32).toString('base64url')}`;
}

export function parseScopes(text: string | undefined, where: string): Scope[] {
  if (!text) return [...DEFAULT_SCOPES];
  const scopes = text.split('+').map((s) => s.trim()).filter(Boolean);
  const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (bad.length) throw new Error(`${where}: unknown scope(s) ${bad.join(', ')} (known: ${SCOPES.join(', ')})`);
  return [...new Set(scopes)] as Scope[];
}

/**
 * Parses `API_KEYS` (`name:secret[:scopes[:owner email]]`, comma-separated).
 * @throws ConfigError naming every bad entry, never a secret.
 */
export function parseBootstrapKeys(text: string | undefined): BootstrapKey[] {
  if (!text) return [];
  const keys: BootstrapKey[] = [];
  const problems: string[] = [];
  text.split(',').map((s) => s.trim()).filter(Boolean).forEach((entry, i) => {
    // The owner is last and may itself contain ':' (slack:U123), so it is everything after the third ':'.
    const [name, secret, scopes, ...ownerParts] = entry.split(':');
    const owner = ownerParts.join(':').trim() || null;
    const where = `API_KEYS entry ${i + 1}${name ? ` (${name})` : ''}`;
    try {
      if (!name || !/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new Error(`${where}: name must be 1-100 of A-Z a-z 0-9 _ . -`);
      if (!secret || secret.length < 16) throw new Error(`${where}: secret must be at least 16 characters`);
      const ownerProblem = owner ? personRefProblem(owner) : undefined;
      if (ownerProblem) throw new Error(`${where}: owner must be a person id or an identity (${ownerProblem})`);
      if (keys.some((k) => k.name === name)) throw new Error(`${where}: duplicate name`);
      const parsed = parseScopes(scopes, where);
      const scopeProblems = keyScopeProblems(parsed, owner);
      if (scopeProblems.length) throw new Error(`${where}: ${scopeProblems.join('; ')}`);
      keys.push({ name, secret, scopes: parsed, owner: owner && !PERSON_ID_PATTERN.test(owner) && !owner.includes(':') ? owner.toLowerCase() : owner });
    } catch (err) {
      problems.push((err as Error).message);
    }
  });
  if (problems.length) throw new ConfigError(problems, 'Invalid API_KEYS');
  return keys;
}

export interface ApiKeyService {
  /** Resolves an `Authorization` header to a principal; throws `unauthorized` when absent, unknown or revoked. */
  authenticate(header: string | undefined): Promise<ApiPrincipal>;
  /** The principal this header resolved to within the cache window, without any I/O; undefined when not cached. */
  cached(header: string | undefined): ApiPrincipal | undefined;
  /** Upserts the API_KEYS entries; keys revoked with the CLI stay revoked. */
  bootstrap(keys: BootstrapKey[]): Promise<{ revokedNames: string[] }>;
  /**
   * Creates a key and returns its secret (shown once).
   * @throws AppError `invalid_key` when the scopes break the separation-of-duties rules or a setting is malformed.
   */
  create(input: NewKeyInput): Promise<{ principal: ApiPrincipal; secret: string }>;
  revoke(name: string, actor: string): Promise<boolean>;
  list(): Promise<(ApiPrincipal & { source: string; createdAt: Date; revokedAt: Date | null })[]>;
}

export interface NewKeyInput {
  name: string;
  scopes: Scope[];
  owner: string | null;
  /** Who creates it, for the trail (`cli:<user>`, `key:<admin key>`). */
  actor: string;
  source?: 'cli' | 'api';
  pins?: KeyPins;
  callbackHosts?: string[];
  limits?: KeyLimits;
}

/** Every problem with a new key's settings (scopes, owner, pins, hosts, limits). */
export function newKeyProblems(input: Omit<NewKeyInput, 'actor'>): string[] {
  const problems = keyScopeProblems(input.scopes, input.owner);
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(input.name)) problems.push('name: 1-100 of A-Z a-z 0-9 _ . -');
  const ownerProblem = input.owner ? personRefProblem(input.owner) : undefined;
  if (ownerProblem) problems.push(`owner: ${ownerProblem}`);
  if (input.pins?.requesterType && !(REQUESTER_TYPES as readonly string[]).includes(input.pins.requesterType)) problems.push(`pinned requester type: one of ${REQUESTER_TYPES.join(', ')}`);
  if ((input.pins?.requesterId || input.pins?.requesterType || input.pins?.environment) && !input.scopes.includes('submit')) problems.push('pins apply to keys with `submit`');
  for (const h of input.callbackHosts ?? []) if (!/^[a-z0-9.*-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/i.test(h)) problems.push(`callback host "${h}": a host name, *.domain, or [ipv6], optionally with :port`);
  for (const [k, v] of Object.entries(input.limits ?? {})) if (v !== undefined && (!Number.isInteger(v) || v < 1)) problems.push(`${k}: a whole number of at least 1`);
  return problems;
}

/** Throws `forbidden` unless the key holds `scope` (or, given a list, any one of them). */
export function requireScope(principal: ApiPrincipal, scope: Scope | readonly Scope[]): void {
  const any = typeof scope === 'string' ? [scope] : scope;
  if (!any.some((s) => principal.scopes.includes(s))) {
    const words = any.map((s) => `\`${s}\``).join(' or ');
    throw new AppError('forbidden', `This API key lacks the ${words} scope.`, { requiredScope: any.length === 1 ? any[0] : any });
  }
}

function toPrincipal(row: ApiKeyRecord): ApiPrincipal {
  const pins: KeyPins = {};
  if (row.pinnedRequesterId) pins.requesterId = row.pinnedRequesterId;
  if (row.pinnedRequesterType) pins.requesterType = row.pinnedRequesterType as RequesterType;
  if (row.pinnedEnvironment) pins.environment = row.pinnedEnvironment;
  const limits: KeyLimits = {};
  if (row.rateLimitPerMinute) limits.ratePerMinute = row.rateLimitPerMinute;
  if (row.maxPending) limits.maxPending = row.maxPending;
  if (row.longPolls) limits.longPolls = row.longPolls;
  return { id: row.id, name: row.name, scopes: row.scopes as Scope[], owner: row.owner, pins, callbackHosts: row.callbackHosts ?? [], limits };
}

function toSettings(input: NewKeyInput): Partial<ApiKeySettings> {
  return {
    pinnedRequesterId: input.pins?.requesterId ?? null,
    pinnedRequesterType: input.pins?.requesterType ?? null,
    pinnedEnvironment: input.pins?.environment ?? null,
    callbackHosts: (input.callbackHosts ?? []).map((h) => h.toLowerCase()),
    rateLimitPerMinute: input.limits?.ratePerMinute ?? null,
    maxPending: input.limits?.maxPending ?? null,
    longPolls: input.limits?.longPolls ?? null,
  };
}

/** Most principals the authentication cache keeps before it starts over. */
const CACHE_MAX = 10_000;

export function createApiKeyService(deps: {
  keys: ApiKeyStore;
  audit: Pick<AuditService, 'append'>;
  /** How long a looked-up key is trusted (API_KEY_CACHE_MS); 0 disables the cache. */
  cacheMs: number;
  clock?: () => Date;
}): ApiKeyService {
  const clock = deps.clock ?? (() => new Date());
  // Keys from API_KEYS are valid only while this process's configuration still lists them.
  let envNames = new Set<string>();
  // A short-lived cache keeps a database round trip off every request; revocation takes effect within cacheMs.
  const cache = new Map<string, { principal: ApiPrincipal | null; until: number }>();

  const unauthorized = (message: string) => new AppError('unauthorized', message);

  const digestOf = (header: string | undefined): string | undefined => {
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    return match ? hashSecret(match[1]) : undefined;
  };

  return {
    cached(header) {
      const digest = digestOf(header);
      const hit = digest ? cache.get(digest) : undefined;
      return hit && hit.until > Date.now() && hit.principal ? hit.principal : undefined;
    },

    async authenticate(header) {
      const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (!match) throw unauthorized('Missing API key: send `Authorization: Bearer <key>`.');
      const digest = hashSecret(match[1]);
      const now = Date.now();
      const cached = cache.get(digest);
      let principal: ApiPrincipal | null;
      if (cached && cached.until > now) {
        principal = cached.principal;
      } else {
        const row = await deps.keys.findBySecretHash(digest);
        const valid = row && !row.revokedAt && (row.source !== 'env' || envNames.has(row.name));
        principal = valid ? toPrincipal(row) : null;
        if (deps.cacheMs > 0) {
          if (cache.size >= CACHE_MAX) cache.clear();
          cache.set(digest, { principal, until: now + deps.cacheMs });
        }
      }
      if (!principal) throw unauthorized('Unknown or revoked API key.');
      return principal;
    },

    async bootstrap(keys) {
      envNames = new Set(keys.map((k) => k.name));
      const revokedNames: string[] = [];
      for (const k of keys) {
        const existing = await deps.keys.findByName(k.name);
        if (existing && existing.source !== 'env') {
          throw new ConfigError([`API_KEYS entry ${k.name}: a key with that name was created with the CLI; choose another name`], 'Invalid API_KEYS');
        }
        if (existing?.revokedAt) revokedNames.push(k.name);
        await deps.keys.upsertFromEnv({ id: existing?.id ?? randomUUID(), name: k.name, secretHash: hashSecret(k.secret), scopes: k.scopes, owner: k.owner });
      }
      return { revokedNames };
    },

    async create(input) {
      const problems = newKeyProblems(input);
      if (problems.length) throw new AppError('invalid_key', `This key cannot be created: ${problems.join('; ')}.`, { problems });
      const secret = generateSecret();
      const owner = input.owner && input.owner.includes('@') && !input.owner.includes(':') ? input.owner.toLowerCase() : input.owner;
      const row = await deps.keys.create({ id: randomUUID(), name: input.name, secretHash: hashSecret(secret), scopes: input.scopes, owner, source: input.source ?? 'cli', ...toSettings(input) });
      const principal = toPrincipal(row);
      await deps.audit.append([
        keyEvent('api_key.created', input.actor, { name: row.name, scopes: row.scopes, owner: row.owner, keyId: row.id, pins: principal.pins, callbackHosts: principal.callbackHosts, limits: principal.limits }, clock()),
      ]);
      return { principal, secret };
    },

    async revoke(name, actor) {
      if (!(await deps.keys.revoke(name, clock()))) return false;
      cache.clear();
      await deps.audit.append([keyEvent('api_key.revoked', actor, { name }, clock())]);
      return true;
    },

    async list() {
      return (await deps.keys.list()).map((r) => ({ ...toPrincipal(r), source: r.source, createdAt: r.createdAt, revokedAt: r.revokedAt }));
    },
  };
}

function keyEvent(type: string, actor: string, data: Record<string, unknown>, at: Date): AuditEventInput {
  return { type, requestId: null, actor: { key: actor }, channel: 'cli', at, data };
}
