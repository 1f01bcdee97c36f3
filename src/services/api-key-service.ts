/**
 * API keys: bootstrapped from API_KEYS, created and revoked with the CLI. Only SHA-256 digests of secrets are stored;
 * a presented key is found by its digest, so no secret ever needs comparing in clear.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ConfigError } from '../config/config-error';
import { AppError } from '../domain/app-error';
import type { AuditEventInput } from '../domain/audit-event';
import type { ApiKeyRecord, ApiKeyStore } from '../store/api-key-store';
import type { AuditService } from './audit-service';

export const SCOPES = ['submit', 'read', 'decide', 'audit'] as const;
export type Scope = (typeof SCOPES)[number];
const DEFAULT_SCOPES: Scope[] = ['submit', 'read'];

export interface ApiPrincipal {
  id: string;
  name: string;
  scopes: Scope[];
  ownerEmail: string | null;
}

export interface BootstrapKey {
  name: string;
  secret: string;
  scopes: Scope[];
  ownerEmail: string | null;
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
    const [name, secret, scopes, owner, ...rest] = entry.split(':');
    const where = `API_KEYS entry ${i + 1}${name ? ` (${name})` : ''}`;
    try {
      if (!name || !/^[A-Za-z0-9_.-]{1,100}$/.test(name)) throw new Error(`${where}: name must be 1-100 of A-Z a-z 0-9 _ . -`);
      if (!secret || secret.length < 16) throw new Error(`${where}: secret must be at least 16 characters`);
      if (rest.length) throw new Error(`${where}: too many ':'-separated parts`);
      if (owner && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(owner)) throw new Error(`${where}: owner must be an email address`);
      if (keys.some((k) => k.name === name)) throw new Error(`${where}: duplicate name`);
      keys.push({ name, secret, scopes: parseScopes(scopes, where), ownerEmail: owner ? owner.toLowerCase() : null });
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
  /** Upserts the API_KEYS entries; keys revoked with the CLI stay revoked. */
  bootstrap(keys: BootstrapKey[]): Promise<{ revokedNames: string[] }>;
  create(input: { name: string; scopes: Scope[]; ownerEmail: string | null; actor: string }): Promise<{ principal: ApiPrincipal; secret: string }>;
  revoke(name: string, actor: string): Promise<boolean>;
  list(): Promise<(ApiPrincipal & { source: string; createdAt: Date; revokedAt: Date | null })[]>;
}

export function requireScope(principal: ApiPrincipal, scope: Scope): void {
  if (!principal.scopes.includes(scope)) {
    throw new AppError('forbidden', `This API key lacks the \`${scope}\` scope.`, { requiredScope: scope });
  }
}

function toPrincipal(row: ApiKeyRecord): ApiPrincipal {
  return { id: row.id, name: row.name, scopes: row.scopes as Scope[], ownerEmail: row.ownerEmail };
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

  return {
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
        await deps.keys.upsertFromEnv({ id: existing?.id ?? randomUUID(), name: k.name, secretHash: hashSecret(k.secret), scopes: k.scopes, ownerEmail: k.ownerEmail });
      }
      return { revokedNames };
    },

    async create({ name, scopes, ownerEmail, actor }) {
      const secret = generateSecret();
      const row = await deps.keys.create({ id: randomUUID(), name, secretHash: hashSecret(secret), scopes, ownerEmail: ownerEmail?.toLowerCase() ?? null, source: 'cli' });
      await deps.audit.append([keyEvent('api_key.created', actor, { name, scopes, ownerEmail: row.ownerEmail, keyId: row.id }, clock())]);
      return { principal: toPrincipal(row), secret };
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
