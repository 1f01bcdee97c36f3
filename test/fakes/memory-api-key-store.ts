/** An in-memory {@link ApiKeyStore} for fast tests of the API key service (Unleash's fake-store pattern). */
import { AppError } from '../../src/domain/app-error';
import type { ApiKeyRecord, ApiKeyStore, NewApiKey } from '../../src/store/api-key-store';

const NO_SETTINGS = { pinnedRequesterId: null, pinnedRequesterType: null, pinnedEnvironment: null, callbackHosts: [], rateLimitPerMinute: null, maxPending: null, longPolls: null };

export function createMemoryApiKeyStore(): ApiKeyStore & { rows: ApiKeyRecord[]; lookups: number } {
  const rows: ApiKeyRecord[] = [];
  const store = {
    rows,
    lookups: 0,
    async findBySecretHash(secretHash: string) {
      store.lookups++;
      return rows.find((r) => r.secretHash === secretHash) ?? null;
    },
    async findByName(name: string) {
      return rows.find((r) => r.name === name) ?? null;
    },
    async upsertFromEnv(k: { id: string; name: string; secretHash: string; scopes: string[]; owner: string | null }) {
      const existing = rows.find((r) => r.name === k.name);
      if (existing) Object.assign(existing, { secretHash: k.secretHash, scopes: k.scopes, owner: k.owner });
      else rows.push({ ...NO_SETTINGS, ...k, source: 'env', createdAt: new Date(), revokedAt: null });
    },
    async create(k: NewApiKey) {
      if (rows.some((r) => r.name === k.name)) throw new AppError('key_exists', `An API key named ${k.name} already exists.`);
      const row: ApiKeyRecord = { ...NO_SETTINGS, ...k, createdAt: new Date(), revokedAt: null };
      rows.push(row);
      return row;
    },
    async revoke(name: string, at: Date) {
      const row = rows.find((r) => r.name === name && !r.revokedAt);
      if (!row) return false;
      row.revokedAt = at;
      return true;
    },
    async list() {
      return [...rows];
    },
  };
  return store;
}
