/**
 * Reading the audit trail. Writes happen inside the statements that change state (intake, votes) so that an event
 * and its effect commit together; {@link AuditService.append} is for events that stand alone (deliveries, key
 * management). Proving the trail (checkpoints, proofs, verification) is the transparency log's (src/evidence).
 */
import { AppError } from '../domain/app-error';
import { isSeqText } from '../domain/ids';
import type { AuditEventInput } from '../domain/audit-event';
import type { AuditEventRow, AuditStore } from '../store/audit-store';

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
  requestId: string | null;
  type: string;
  actor: { key: string; ids: string[]; label?: string };
  channel: string;
  at: string;
  data: Record<string, unknown>;
  /** The exact bytes of the log leaf (canonical JSON), so an export can be verified without this service. */
  payload: string;
  /** Position in the transparency log; null until sealed (within AUDIT_SEAL_INTERVAL_MS of the commit). */
  leafIndex: string | null;
  /** RFC 9162 leaf hash recorded when sealed (base64). */
  leafHash: string | null;
}

export interface AuditService {
  append(events: AuditEventInput[]): Promise<void>;
  /** Newest first when `order` is desc (chat look-ups), oldest first otherwise (exports, verification). */
  search(filter: AuditFilter, page: { limit: number; cursor?: string; order?: 'asc' | 'desc' }): Promise<{ items: AuditRecord[]; nextCursor: string | null }>;
}

/** Identity keys are compared as policies write them: emails lower-cased, `slack:`/`teams:` keys as given. */
function normalizeIdentityKey(key: string): string {
  return key.startsWith('slack:') || key.startsWith('teams:') ? key : key.toLowerCase();
}

function toRecord(r: AuditEventRow): AuditRecord {
  const p = JSON.parse(r.payload) as { actor: AuditRecord['actor']; data: Record<string, unknown> };
  return {
    seq: r.seq,
    requestId: r.requestId,
    type: r.type,
    actor: p.actor,
    channel: r.channel,
    at: r.at.toISOString(),
    data: p.data,
    payload: r.payload,
    leafIndex: r.leafIndex,
    leafHash: r.leafHash ? r.leafHash.toString('base64') : null,
  };
}

export function createAuditService(deps: { audit: AuditStore }): AuditService {
  const store = deps.audit;
  return {
    append: (events) => store.append(events),

    async search(filter, page) {
      if (page.cursor !== undefined && !isSeqText(page.cursor)) {
        throw new AppError('invalid_cursor', 'Invalid field `cursor`: not a cursor this API returned.', { field: 'cursor' });
      }
      const rows = await store.select({
        requestId: filter.requestId,
        type: filter.type,
        actorId: filter.approver ? normalizeIdentityKey(filter.approver) : undefined,
        person: filter.person ? normalizeIdentityKey(filter.person) : undefined,
        since: filter.since,
        until: filter.until,
        requester: filter.requester,
        actionLike: filter.action ? globToLike(filter.action) : undefined,
        resourceLike: filter.resource ? globToLike(filter.resource) : undefined,
        afterSeq: page.cursor,
        order: page.order === 'desc' ? 'desc' : 'asc',
        limit: page.limit + 1,
      });
      const more = rows.length > page.limit;
      const items = rows.slice(0, page.limit).map(toRecord);
      return { items, nextCursor: more ? items[items.length - 1].seq : null };
    },

  };
}

/** `dataset.*` → `dataset.%`, with LIKE's own wildcards escaped. Audit filters take simple `*` / `?` globs. */
export function globToLike(glob: string): string {
  return glob.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*+/g, '%').replace(/\?/g, '_');
}
