/**
 * Deliveries: one row per card, notification or callback a request owes, keyed by (request, kind, target). The row is
 * the guard that keeps a card from being posted twice: a job claims it, and a settled row (delivered, skipped,
 * failed) tells a duplicate job it has nothing to do.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from './database';

/** `reminder` rows are keyed `<card target>#<reminder index>`: one per card and reminder. */
export type DeliveryKind = 'card' | 'notify' | 'callback' | 'reminder';
export type DeliveryStatus = 'pending' | 'delivered' | 'skipped' | 'failed';

/** What a delivered card row remembers: where the message lives and which state version it shows. */
export interface StoredMessageRef {
  ref: Record<string, unknown>;
  renderedVersion?: string;
  /** A state version whose render failed for good: the reconciler does not re-drive it (a later change does). */
  abandonedVersion?: string;
}

export interface DeliveryRow {
  status: DeliveryStatus;
  messageRef: StoredMessageRef | null;
  attempts: number;
}

/** Port of the deliveries aggregate. */
export interface DeliveryStore {
  get(requestId: string, kind: DeliveryKind, target: string): Promise<DeliveryRow | null>;
  /** Every row of a request (what the reconciler compares with what the request owes). */
  list(requestId: string): Promise<(DeliveryRow & { kind: DeliveryKind; target: string })[]>;
  /**
   * Creates the row if needed and counts the attempt while it is pending. A settled row comes back unchanged, which is
   * how a duplicate job learns it has nothing to do.
   */
  claim(requestId: string, kind: DeliveryKind, target: string): Promise<DeliveryRow>;
  /** Settles the row; `ref` (when given) replaces the stored message reference. */
  settle(requestId: string, kind: DeliveryKind, target: string, status: Exclude<DeliveryStatus, 'pending'>, extra: { ref?: StoredMessageRef; error?: string }): Promise<void>;
  /** Remembers why the last attempt failed, leaving the status as it is. */
  recordError(requestId: string, kind: DeliveryKind, target: string, message: string): Promise<void>;
  /** Records that a delivered card now shows `version`. */
  markRendered(requestId: string, target: string, version: string): Promise<void>;
  /** Records that rendering `version` on a delivered card failed permanently, so nobody re-drives it. */
  abandonRender(requestId: string, target: string, version: string): Promise<void>;
}

interface Row {
  status: DeliveryStatus;
  message_ref: StoredMessageRef | null;
  attempts: number;
}
const toRow = (r: Row): DeliveryRow => ({ status: r.status, messageRef: r.message_ref, attempts: r.attempts });

export function createDeliveryStore(deps: { db: Pick<Database, '$queryRawUnsafe' | '$executeRawUnsafe'> }): DeliveryStore {
  const { db } = deps;

  async function get(requestId: string, kind: DeliveryKind, target: string): Promise<DeliveryRow | null> {
    const rows = await db.$queryRawUnsafe<Row[]>(
      'SELECT status, message_ref, attempts FROM delivery WHERE request_id = $1::uuid AND kind = $2 AND target = $3',
      requestId, kind, target,
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  return {
    get,

    async list(requestId) {
      const rows = await db.$queryRawUnsafe<(Row & { kind: DeliveryKind; target: string })[]>(
        'SELECT kind, target, status, message_ref, attempts FROM delivery WHERE request_id = $1::uuid',
        requestId,
      );
      return rows.map((r) => ({ ...toRow(r), kind: r.kind, target: r.target }));
    },

    async claim(requestId, kind, target) {
      const rows = await db.$queryRawUnsafe<Row[]>(
        `INSERT INTO delivery (id, request_id, kind, target, status, attempts, updated_at) VALUES ($1::uuid, $2::uuid, $3, $4, 'pending', 1, now())
         ON CONFLICT (request_id, kind, target) DO UPDATE SET attempts = delivery.attempts + 1, updated_at = now()
           WHERE delivery.status = 'pending'
         RETURNING status, message_ref, attempts`,
        randomUUID(), requestId, kind, target,
      );
      if (rows[0]) return toRow(rows[0]);
      // The conflict's WHERE skipped a settled row: read it as it is.
      return (await get(requestId, kind, target))!;
    },

    async settle(requestId, kind, target, status, extra) {
      await db.$executeRawUnsafe(
        `UPDATE delivery SET status = $4::"DeliveryStatus", message_ref = COALESCE($5::jsonb, message_ref), last_error = $6, updated_at = now()
         WHERE request_id = $1::uuid AND kind = $2 AND target = $3`,
        requestId, kind, target, status, extra.ref === undefined ? null : JSON.stringify(extra.ref), extra.error ?? null,
      );
    },

    async recordError(requestId, kind, target, message) {
      await db.$executeRawUnsafe(
        'UPDATE delivery SET last_error = $4, updated_at = now() WHERE request_id = $1::uuid AND kind = $2 AND target = $3',
        requestId, kind, target, message,
      );
    },

    async markRendered(requestId, target, version) {
      await db.$executeRawUnsafe(
        `UPDATE delivery SET message_ref = jsonb_set(message_ref, '{renderedVersion}', to_jsonb($3::text)), updated_at = now()
         WHERE request_id = $1::uuid AND kind = 'card' AND target = $2 AND status = 'delivered'`,
        requestId, target, version,
      );
    },

    async abandonRender(requestId, target, version) {
      await db.$executeRawUnsafe(
        `UPDATE delivery SET message_ref = jsonb_set(message_ref, '{abandonedVersion}', to_jsonb($3::text)), updated_at = now()
         WHERE request_id = $1::uuid AND kind = 'card' AND target = $2 AND status = 'delivered'`,
        requestId, target, version,
      );
    },
  };
}
