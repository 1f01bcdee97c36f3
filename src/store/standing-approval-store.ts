/**
 * Standing approvals: an approver's "this, and the same action on this resource by this requester, for a while or a
 * number of uses". Created inside the vote's transaction; drawn on by intake with one guarded decrement whose WHERE
 * checks expiry, revocation and the uses left in SQL, so concurrent requests never draw more uses than were granted.
 */
import type { AuditEventInput } from '../domain/audit-event';
import { appendAuditEvents } from './audit-store';
import { runQuery, withTransaction, type Sql, type SqlPool } from './database';

export interface NewStandingApproval {
  id: string;
  requestId: string;
  rule: string;
  action: string;
  resource: string;
  environment: string | null;
  requesterId: string;
  requesterType: string;
  grantedBy: string;
  grantedByLabel: string;
  /** Person ids who may revoke it: the rule's approvers when it was granted. */
  approvers: string[];
  maxUses: number;
  createdAt: Date;
  expiresAt: Date;
}

export interface StandingApprovalRecord extends NewStandingApproval {
  usesLeft: number;
  revokedAt: Date | null;
  revokedBy: string | null;
}

/** What a later request must share with a standing approval to be covered by it. */
export interface StandingMatch {
  rule: string;
  action: string;
  resource: string;
  environment: string | null;
  requesterId: string;
  requesterType: string;
  /** Person ids of the new request's parties: a standing approval granted by any of them never covers it. */
  parties: string[];
  /**
   * The rule's bounds as the policy in force states them: a standing approval granted under looser bounds (before the
   * policy was tightened) no longer covers anything.
   */
  bounds: { maxForSeconds: number; maxUses: number };
  now: Date;
}

/** Port of the standing approvals. */
export interface StandingApprovalStore {
  /**
   * Takes one use of the matching standing approval that expires first (unexpired, unrevoked, uses left, granted by none
   * of the request's parties).
   * @returns it, with the uses left after this one, or null when none covers the request (nothing changes).
   */
  draw(match: StandingMatch): Promise<(Pick<StandingApprovalRecord, 'id' | 'grantedBy' | 'grantedByLabel' | 'usesLeft' | 'expiresAt'>) | null>;
  /** Gives back a use taken by a request that was then not written (an idempotent replay, a failed insert). */
  giveBack(id: string): Promise<void>;
  get(id: string): Promise<StandingApprovalRecord | null>;
  /**
   * Newest first; `activeAt` keeps only those still usable at that time, `approver` only those that person id may revoke
   * (one of the approvers snapshotted on the row).
   */
  list(opts: { activeAt?: Date; limit: number; approver?: string }): Promise<StandingApprovalRecord[]>;
  /**
   * Revokes it (once) when `by` is one of its approvers, with `events` in the same transaction.
   * @returns what happened: revoked, already revoked, not an approver, or no such standing approval.
   */
  revoke(id: string, by: string, at: Date, events: AuditEventInput[]): Promise<'revoked' | 'already_revoked' | 'not_approver' | 'not_found'>;
}

const INSERT_SQL = `INSERT INTO standing_approval (id, request_id, rule, action, resource, environment, requester_id, requester_type,
    granted_by, granted_by_label, approvers, max_uses, uses_left, created_at, expires_at)
  VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[], $12, $12, $13::timestamptz, $14::timestamptz)`;

/** Inserts a standing approval on `sql` (the vote's transaction). */
export async function insertStandingApproval(sql: Sql, s: NewStandingApproval): Promise<void> {
  await runQuery(sql, {
    name: 'cs_standing_insert',
    text: INSERT_SQL,
    values: [s.id, s.requestId, s.rule, s.action, s.resource, s.environment, s.requesterId, s.requesterType, s.grantedBy, s.grantedByLabel, s.approvers, s.maxUses, s.createdAt, s.expiresAt],
  });
}

// The sub-select locks the candidate row (FOR UPDATE, not SKIP LOCKED: a concurrent draw waits and then re-checks the
// row as committed, so the last use goes to exactly one request and nobody is sent to people while uses remain). The
// outer WHERE repeats the guard for the same reason.
const DRAW_SQL = `UPDATE standing_approval SET uses_left = uses_left - 1
  WHERE id = (
    SELECT id FROM standing_approval
    WHERE rule = $1 AND action = $2 AND resource = $3 AND environment IS NOT DISTINCT FROM $4 AND requester_id = $5 AND requester_type = $6
      AND revoked_at IS NULL AND uses_left > 0 AND expires_at > $7::timestamptz AND NOT (granted_by = ANY($8::text[]))
      AND max_uses <= $9::int AND expires_at <= created_at + make_interval(secs => $10::int)
    ORDER BY expires_at, id LIMIT 1 FOR UPDATE)
  AND uses_left > 0 AND revoked_at IS NULL AND expires_at > $7::timestamptz
  RETURNING id, granted_by, granted_by_label, uses_left, expires_at`;

interface Row {
  id: string;
  request_id: string;
  rule: string;
  action: string;
  resource: string;
  environment: string | null;
  requester_id: string;
  requester_type: string;
  granted_by: string;
  granted_by_label: string;
  approvers: string[];
  max_uses: number;
  uses_left: number;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
}

function toRecord(r: Row): StandingApprovalRecord {
  return {
    id: r.id, requestId: r.request_id, rule: r.rule, action: r.action, resource: r.resource, environment: r.environment,
    requesterId: r.requester_id, requesterType: r.requester_type, grantedBy: r.granted_by, grantedByLabel: r.granted_by_label,
    approvers: r.approvers, maxUses: r.max_uses, usesLeft: r.uses_left, createdAt: new Date(r.created_at), expiresAt: new Date(r.expires_at),
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null, revokedBy: r.revoked_by,
  };
}

export function createStandingApprovalStore(deps: { pool: SqlPool }): StandingApprovalStore {
  const { pool } = deps;
  return {
    async draw(m) {
      const { rows } = await runQuery<Pick<Row, 'id' | 'granted_by' | 'granted_by_label' | 'uses_left' | 'expires_at'>>(pool, {
        name: 'cs_standing_draw',
        text: DRAW_SQL,
        values: [m.rule, m.action, m.resource, m.environment, m.requesterId, m.requesterType, m.now, m.parties, m.bounds.maxUses, m.bounds.maxForSeconds],
      });
      const r = rows[0];
      return r ? { id: r.id, grantedBy: r.granted_by, grantedByLabel: r.granted_by_label, usesLeft: r.uses_left, expiresAt: new Date(r.expires_at) } : null;
    },
    async giveBack(id) {
      await runQuery(pool, 'UPDATE standing_approval SET uses_left = uses_left + 1 WHERE id = $1::uuid AND uses_left < max_uses', [id]);
    },
    async get(id) {
      const { rows } = await runQuery<Row>(pool, 'SELECT * FROM standing_approval WHERE id = $1::uuid', [id]);
      return rows[0] ? toRecord(rows[0]) : null;
    },
    async list({ activeAt, limit, approver }) {
      const where: string[] = [];
      const values: unknown[] = [];
      if (activeAt) {
        values.push(activeAt);
        where.push(`revoked_at IS NULL AND uses_left > 0 AND expires_at > $${values.length}::timestamptz`);
      }
      if (approver) {
        values.push(approver);
        where.push(`$${values.length} = ANY(approvers)`);
      }
      values.push(limit);
      const { rows } = await runQuery<Row>(pool, `SELECT * FROM standing_approval ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT $${values.length}`, values);
      return rows.map(toRecord);
    },
    async revoke(id, by, at, events) {
      return withTransaction(pool, async (tx) => {
        const { rows } = await runQuery<Pick<Row, 'approvers' | 'revoked_at'>>(tx, 'SELECT approvers, revoked_at FROM standing_approval WHERE id = $1::uuid FOR UPDATE', [id]);
        const row = rows[0];
        if (!row) return 'not_found';
        if (!row.approvers.includes(by)) return 'not_approver';
        if (row.revoked_at) return 'already_revoked';
        await runQuery(tx, 'UPDATE standing_approval SET revoked_at = $2::timestamptz, revoked_by = $3 WHERE id = $1::uuid AND revoked_at IS NULL', [id, at, by]);
        await appendAuditEvents(tx, events);
        return 'revoked';
      });
    },
  };
}
