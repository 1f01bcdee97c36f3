/**
 * Reading and checking the audit trail. Writes happen inside the statements that change state (intake, votes,
 * deliveries) so that an event and its effect commit together; {@link AuditService.append} is for events that stand
 * alone (deliveries, key management).
 */
import { AppError } from '../domain/app-error';
import { createChainVerifier, type ChainBreak } from '../domain/audit-chain';
import type { Database } from '../store/database';
import { auditInsertSql, toAuditRow, type AuditEventInput } from './audit-event';

export interface AuditFilter {
  requestId?: string;
  /** Requester id or email. */
  requester?: string;
  /** Any identity key of the acting person: email, slack:U…, teams:… */
  approver?: string;
  action?: string;
  resource?: string;
  type?: string;
  /** Events the person acted in OR on requests they made (requester id, email, or any identity key). */
  person?: string;
  since?: Date;
  until?: Date;
}

export interface AuditRecord {
  seq: string;
  chain: number;
  requestId: string | null;
  type: string;
  actor: { key: string; ids: string[]; label?: string };
  channel: string;
  at: string;
  data: Record<string, unknown>;
  prevHash: string;
  hash: string;
  /** The exact bytes the hash covers, so an export can be verified without this service. */
  payload: string;
}

export interface AuditService {
  append(events: AuditEventInput[]): Promise<void>;
  /** Newest first when `order` is desc (chat look-ups), oldest first otherwise (exports, verification). */
  query(filter: AuditFilter, page: { limit: number; cursor?: string; order?: 'asc' | 'desc' }): Promise<{ items: AuditRecord[]; nextCursor: string | null }>;
  verify(): Promise<{ ok: boolean; checked: number; firstBreak: ChainBreak | null }>;
}

interface AuditDbRow {
  seq: bigint;
  chain: number;
  request_id: string | null;
  type: string;
  channel: string;
  at: Date;
  payload: string;
  prev_hash: string;
  hash: string;
}

export function createAuditService(deps: { db: Pick<Database, '$executeRawUnsafe' | '$queryRawUnsafe'> }): AuditService {
  const { db } = deps;

  function toRecord(r: AuditDbRow): AuditRecord {
    const p = JSON.parse(r.payload) as { actor: AuditRecord['actor']; data: Record<string, unknown> };
    return {
      seq: String(r.seq),
      chain: Number(r.chain),
      requestId: r.request_id,
      type: r.type,
      actor: p.actor,
      channel: r.channel,
      at: new Date(r.at).toISOString(),
      data: p.data,
      prevHash: r.prev_hash,
      hash: r.hash,
      payload: r.payload,
    };
  }

  return {
    async append(events) {
      if (events.length === 0) return;
      await db.$executeRawUnsafe(auditInsertSql('$1'), JSON.stringify(events.map(toAuditRow)));
    },

    async query(filter, page) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, value: unknown) => {
        params.push(value);
        where.push(sql.replace('?', `$${params.length}`));
      };
      const joinRequest = Boolean(filter.requester || filter.action || filter.resource);
      if (filter.requestId) add('e.request_id = ?::uuid', filter.requestId);
      if (filter.type) add('e.type = ?', filter.type);
      if (filter.approver) add('e.actor_ids @> ARRAY[?]::text[]', filter.approver.startsWith('slack:') || filter.approver.startsWith('teams:') ? filter.approver : filter.approver.toLowerCase());
      if (filter.person) {
        const p = filter.person.startsWith('slack:') || filter.person.startsWith('teams:') ? filter.person : filter.person.toLowerCase();
        add('(e.actor_ids @> ARRAY[?]::text[] OR e.request_id IN (SELECT id FROM approval_request WHERE requester_id = $' + (params.length + 1) + ' OR requester_email = $' + (params.length + 1) + '))', p);
      }
      if (filter.since) add('e.at >= ?::timestamptz', filter.since);
      if (filter.until) add('e.at < ?::timestamptz', filter.until);
      if (filter.requester) add('(r.requester_id = ? OR r.requester_email = lower($' + (params.length + 1) + '))', filter.requester);
      if (filter.action) add("r.action LIKE ? ESCAPE '\\'", globToLike(filter.action));
      if (filter.resource) add("r.resource LIKE ? ESCAPE '\\'", globToLike(filter.resource));
      const desc = page.order === 'desc';
      if (page.cursor) {
        if (!/^\d+$/.test(page.cursor)) throw new AppError('invalid_cursor', 400, 'Invalid field `cursor`: not a cursor this API returned.', { field: 'cursor' });
        add(desc ? 'e.seq < ?::bigint' : 'e.seq > ?::bigint', page.cursor);
      }
      params.push(page.limit + 1);
      const sql = `SELECT e.seq, e.chain, e.request_id, e.type, e.channel, e.at, e.payload, e.prev_hash, e.hash
        FROM audit_event e ${joinRequest ? 'JOIN approval_request r ON r.id = e.request_id' : ''}
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY e.seq ${desc ? 'DESC' : 'ASC'} LIMIT $${params.length}`;
      const rows = await db.$queryRawUnsafe<AuditDbRow[]>(sql, ...params);
      const more = rows.length > page.limit;
      const items = rows.slice(0, page.limit).map(toRecord);
      return { items, nextCursor: more ? items[items.length - 1].seq : null };
    },

    async verify() {
      const verifier = createChainVerifier();
      let after = '0';
      const BATCH = 5_000;
      for (;;) {
        const rows = await db.$queryRawUnsafe<AuditDbRow[]>(
          'SELECT seq, chain, payload, prev_hash, hash FROM audit_event WHERE seq > $1::bigint ORDER BY seq LIMIT $2',
          after,
          BATCH,
        );
        for (const r of rows) {
          const broken = verifier.push({ seq: r.seq, chain: Number(r.chain), payload: r.payload, prevHash: r.prev_hash, hash: r.hash });
          if (broken) return { ok: false, checked: verifier.checked, firstBreak: broken };
        }
        if (rows.length < BATCH) break;
        after = String(rows[rows.length - 1].seq);
      }
      const heads = await db.$queryRawUnsafe<{ chain: number; last_hash: string; last_seq: bigint }[]>(
        'SELECT chain, last_hash, last_seq FROM audit_chain_head ORDER BY chain',
      );
      const broken = verifier.finish(heads.map((h) => ({ chain: Number(h.chain), lastHash: h.last_hash, lastSeq: h.last_seq })));
      return { ok: !broken, checked: verifier.checked, firstBreak: broken ?? null };
    },
  };
}

/** `dataset.*` → `dataset.%`, with LIKE's own wildcards escaped. Audit filters take simple `*` / `?` globs. */
export function globToLike(glob: string): string {
  return glob.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*+/g, '%').replace(/\?/g, '_');
}
