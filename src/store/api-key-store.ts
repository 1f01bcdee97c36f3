/**
 * API keys: only SHA-256 digests of secrets are stored, so a presented key is found by its digest and no secret ever
 * needs comparing in clear.
 */
import { AppError } from '../domain/app-error';
import { isUniqueViolation, type Database } from './database';

/** What a key's creator may set beyond name, scopes and owner: pins, callback hosts and limit overrides. */
export interface ApiKeySettings {
  pinnedRequesterId: string | null;
  pinnedRequesterType: string | null;
  pinnedEnvironment: string | null;
  callbackHosts: string[];
  rateLimitPerMinute: number | null;
  maxPending: number | null;
  longPolls: number | null;
}

export interface ApiKeyRecord extends ApiKeySettings {
  id: string;
  name: string;
  secretHash: string;
  scopes: string[];
  /** The person responsible: a person id or one of their identities. */
  owner: string | null;
  /** `env` (bootstrapped from API_KEYS), `cli` or `api`. */
  source: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** A key as it is created. */
export type NewApiKey = Pick<ApiKeyRecord, 'id' | 'name' | 'secretHash' | 'scopes' | 'owner' | 'source'> & Partial<ApiKeySettings>;

/** Port of the API keys aggregate. */
export interface ApiKeyStore {
  findBySecretHash(secretHash: string): Promise<ApiKeyRecord | null>;
  findByName(name: string): Promise<ApiKeyRecord | null>;
  /** Creates or refreshes a key bootstrapped from API_KEYS (its revocation, if any, is kept). */
  upsertFromEnv(key: { id: string; name: string; secretHash: string; scopes: string[]; owner: string | null }): Promise<void>;
  /**
   * Creates a key.
   * @throws AppError `key_exists` when the name is taken.
   */
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  /** Marks an active key revoked; false when there is no active key of that name. */
  revoke(name: string, at: Date): Promise<boolean>;
  /** Every key, oldest first. */
  list(): Promise<ApiKeyRecord[]>;
}

export function createApiKeyStore(deps: { db: Pick<Database, 'apiKey'> }): ApiKeyStore {
  const table = deps.db.apiKey;
  return {
    findBySecretHash: async (secretHash) => table.findUnique({ where: { secretHash } }),
    findByName: async (name) => table.findUnique({ where: { name } }),

    async upsertFromEnv(k) {
      await table.upsert({
        where: { name: k.name },
        create: { ...k, source: 'env' },
        update: { secretHash: k.secretHash, scopes: k.scopes, owner: k.owner },
      });
    },

    async create(k) {
      try {
        return await table.create({ data: k });
      } catch (err) {
        if (isUniqueViolation(err)) throw new AppError('key_exists', `An API key named ${k.name} already exists.`);
        throw err;
      }
    },

    async revoke(name, at) {
      const res = await table.updateMany({ where: { name, revokedAt: null }, data: { revokedAt: at } });
      return res.count > 0;
    },

    list: async () => table.findMany({ orderBy: { createdAt: 'asc' } }),
  };
}
