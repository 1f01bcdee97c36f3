/**
 * The audit trail's storage: appends (alone, or as a fragment of the statements that change state so an event and its
 * effect commit together) and filtered reads. Appends are plain inserts: no hash, no lock. The transparency log
 * (src/store/log-store.ts) seals events into leaves later; reads show each event's leaf when it has one.
 */
import type { AuditEventInput } from '../domain/audit-event';
import { actorIds, auditPayload } from '../domain/audit-event';
import type { Database, Sql } from './database';
import { runQuery } from './database';

/** The row shape the insert statements feed to `jsonb_to_recordset`. */
interface AuditRow {
  request_id: string | null;
  type: string;
  actor: string;
  actor_ids: string[];
  channel: string;
  at: string;
  payload: string;
}

function toAuditRow(e: AuditEventInput): AuditRow {
  return {
    request_id: e.requestId,
    type: e.type,
    actor: e.actor.key,
    actor_ids: actorIds(e.actor),
    channel: e.channel,
    at: e.at.toISOString(),
    payload: auditPayload(e),
  };
}

/** The JSON parameter the insert fragment reads. */
export function auditRowsParam(events: AuditEventInput[]): string {
  return JSON.stringify(events.map(toAuditRow));
}

/** SQL fragment inserting the events passed as a JSON array (see {@link auditRowsParam}) in parameter `$n`. */
export function auditInsertSql(param: string, from = ''): string {
  return `INSERT INTO audit_event (request_id, type, actor, actor_ids, channel, at, payload)
    SELECT e.request_id, e.type, e.actor, e.actor_ids, e.channel, e.at, e.payload
    FROM jsonb_to_recordset(${param}::jsonb) AS e(request_id uuid, type text, actor text, actor_ids text[], channel text, at timestamptz, payload text)${from}`;
}

const APPEND_SQL = auditInsertSql('$1');

/** Appends events on a connection that may be inside a transaction (a named statement: planned once per connection). */
export async function appendAuditEvents(sql: Sql, events: AuditEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await runQuery(sql, { name: 'cs_audit_append', text: APPEND_SQL, values: [auditRowsParam(events)] });
}

/** A stored audit event as read back, with its place in the transparency log once sealed. */
export interface AuditEventRow {
  seq: string;
  requestId: string | null;
  type: string;
  channel: string;
  at: Date;
  payload: string;
  /** Leaf position in the transparency log; null until the sealer has sealed the event. */
  leafIndex: string | null;
  /** The RFC 9162 leaf hash recorded when it was sealed. */
  leafHash: Buffer | null;
}

export interface AuditQuery {
  requestId?: string;
  type?: string;
  /** Any identity key of the acting person, already normalised. */
  actorId?: string;
  /** Events where this identity acted, or on requests made by this requester id or email. */
  person?: string;
  since?: Date;
  until?: Date;
  /** Requester id or email (case-insensitive for the email). */
  requester?: string;
  /** LIKE patterns (escaped with `\`) on the request's action and resource. */
  actionLike?: string;
  resourceLike?: string;
  /** Exclusive bound on `seq` in the direction of `order`. */
  afterSeq?: string;
  order: 'asc' | 'desc';
  limit: number;
}

/** TSDoc'd port of the audit trail's storage; services receive it, never the database client. */
export interface AuditStore {
  /** Appends events that stand alone (deliveries, key management). */
  append(events: AuditEventInput[]): Promise<void>;
  /** Events matching every given filter, in `seq` order, at most `limit`. */
  select(q: AuditQuery): Promise<AuditEventRow[]>;
}

export function createAuditStore(deps: { db: Pick<Database, '$queryRawUnsafe' | '$executeRawUnsafe'> }): AuditStore {
  const { db } = deps;
  return {
    async append(events) {
      if (events.length === 0) return;
      await db.$executeRawUnsafe(APPEND_SQL, auditRowsParam(events));
    },

    async select(q) {
      const where: string[] = [];
      const params: unknown[] = [];
      const param = (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      };
      const joinRequest = Boolean(q.requester || q.actionLike || q.resourceLike);
      if (q.requestId) where.push(`e.request_id = ${param(q.requestId)}::uuid`);
      if (q.type) where.push(`e.type = ${param(q.type)}`);
      if (q.actorId) where.push(`e.actor_ids @> ARRAY[${param(q.actorId)}]::text[]`);
      if (q.person) {
        const p = param(q.person);
        where.push(`(e.actor_ids @> ARRAY[${p}]::text[] OR e.request_id IN (SELECT id FROM approval_request WHERE requester_id = ${p} OR requester_email = ${p}))`);
      }
      if (q.since) where.push(`e.at >= ${param(q.since)}::timestamptz`);
      if (q.until) where.push(`e.at < ${param(q.until)}::timestamptz`);
      if (q.requester) {
        const p = param(q.requester);
        where.push(`(r.requester_id = ${p} OR r.requester_email = lower(${p}))`);
      }
      if (q.actionLike) where.push(`r.action LIKE ${param(q.actionLike)} ESCAPE '\\'`);
      if (q.resourceLike) where.push(`r.resource LIKE ${param(q.resourceLike)} ESCAPE '\\'`);
      const desc = q.order === 'desc';
      if (q.afterSeq) where.push(`e.seq ${desc ? '<' : '>'} ${param(q.afterSeq)}::bigint`);
      const limit = param(q.limit);
      const rows = await db.$queryRawUnsafe<{ seq: bigint; request_id: string | null; type: string; channel: string; at: Date; payload: string; leaf_index: bigint | null; leaf_hash: Uint8Array | null }[]>(
        `SELECT e.seq, e.request_id, e.type, e.channel, e.at, e.payload, l.leaf_index, l.leaf_hash
         FROM audit_event e ${joinRequest ? 'JOIN approval_request r ON r.id = e.request_id' : ''}
         LEFT JOIN audit_leaf l ON l.seq = e.seq
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY e.seq ${desc ? 'DESC' : 'ASC'} LIMIT ${limit}`,
        ...params,
      );
      return rows.map((r) => ({
        seq: String(r.seq),
        requestId: r.request_id,
        type: r.type,
        channel: r.channel,
        at: new Date(r.at),
        payload: r.payload,
        leafIndex: r.leaf_index === null ? null : String(r.leaf_index),
        leafHash: r.leaf_hash === null ? null : Buffer.from(r.leaf_hash),
      }));
    },
  };
}
