/**
 * Policy history's storage: every policy text that was in force (by its SHA-256, the hash each request records) and
 * when each became the one in force. Both tables are insert-only for the service, so the rules a past decision was made
 * under can always be read back exactly as written.
 */
import type { AuditEventInput } from '../domain/audit-event';
import { appendAuditEvents } from './audit-store';
import { runQuery, withTransaction, type SqlPool } from './database';

/** Advisory lock serializing "is this version already the one in force?" across nodes starting together. */
const POLICY_LOCK_KEY = 0x63735f70;

export interface PolicyVersionRecord {
  hash: string;
  text: string;
  firstAt: Date;
}

export interface PolicyInForceRecord {
  hash: string;
  at: Date;
  source: string;
}

/** Port of the policy history. */
export interface PolicyStore {
  /**
   * Records that `version` is in force from `at`: stores its text once and, when it is not already the latest version
   * in force, a row saying so and `events(previousHash)`, all in one transaction. Nodes restarting with the same file
   * record nothing new.
   * @returns the hash that was in force before, and whether the version in force changed.
   */
  recordInForce(
    version: { hash: string; text: string; at: Date; source: string },
    events: (previousHash: string | null) => AuditEventInput[],
  ): Promise<{ changed: boolean; previousHash: string | null }>;
  /** The stored texts of these hashes (unknown hashes are left out). */
  versions(hashes: readonly string[]): Promise<PolicyVersionRecord[]>;
  /** What was in force during [since, until): the version in force at `since` (when any) and every change after it. */
  inForceBetween(since: Date, until: Date): Promise<PolicyInForceRecord[]>;
}

interface InForceRow {
  hash: string;
  at: Date;
  source: string;
}

export function createPolicyStore(deps: { pool: SqlPool }): PolicyStore {
  const { pool } = deps;
  return {
    async recordInForce(version, events) {
      return withTransaction(pool, async (sql) => {
        await runQuery(sql, 'SELECT pg_advisory_xact_lock($1)', [POLICY_LOCK_KEY]);
        await runQuery(sql, 'INSERT INTO policy_version (hash, text, first_at) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING', [version.hash, version.text, version.at]);
        const { rows } = await runQuery<{ hash: string }>(sql, 'SELECT hash FROM policy_in_force ORDER BY id DESC LIMIT 1');
        const previousHash = rows[0]?.hash ?? null;
        if (previousHash === version.hash) return { changed: false, previousHash };
        await runQuery(sql, 'INSERT INTO policy_in_force (hash, at, source) VALUES ($1, $2, $3)', [version.hash, version.at, version.source]);
        await appendAuditEvents(sql, events(previousHash));
        return { changed: true, previousHash };
      });
    },

    async versions(hashes) {
      if (hashes.length === 0) return [];
      const { rows } = await runQuery<{ hash: string; text: string; first_at: Date }>(
        pool,
        'SELECT hash, text, first_at FROM policy_version WHERE hash = ANY($1::text[]) ORDER BY first_at, hash',
        [[...new Set(hashes)]],
      );
      return rows.map((r) => ({ hash: r.hash, text: r.text, firstAt: r.first_at }));
    },

    async inForceBetween(since, until) {
      const { rows } = await runQuery<InForceRow>(
        pool,
        `(SELECT hash, at, source, id FROM policy_in_force WHERE at <= $1 ORDER BY at DESC, id DESC LIMIT 1)
         UNION ALL
         (SELECT hash, at, source, id FROM policy_in_force WHERE at > $1 AND at < $2)
         ORDER BY at, id`,
        [since, until],
      );
      return rows.map((r) => ({ hash: r.hash, at: r.at, source: r.source }));
    },
  };
}
