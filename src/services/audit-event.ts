/**
 * How audit events are shaped before they reach the database. The payload is the canonical JSON of the whole event;
 * the hash chain (computed by the database trigger) covers exactly these bytes, so an export can be verified offline.
 */
import { canonicalJson, chainFor } from '../domain/audit-chain';
import { identityKeys, type PersonIdentity } from '../domain/identity';

export interface AuditActor {
  /** Canonical actor: a person key (email, slack:U…, teams:…), `key:<api key name>`, `agent:<id>`, `policy` or `system`. */
  key: string;
  /** Every identifier of the actor, for look-ups by any of them. */
  ids?: string[];
  label?: string;
}

export interface AuditEventInput {
  type: string;
  requestId: string | null;
  actor: AuditActor;
  channel: string;
  at: Date;
  data: Record<string, unknown>;
}

/** The row shape the insert statements feed to `jsonb_to_recordset`. */
export interface AuditRow {
  chain: number;
  request_id: string | null;
  type: string;
  actor: string;
  actor_ids: string[];
  channel: string;
  at: string;
  payload: string;
}

export function toAuditRow(e: AuditEventInput): AuditRow {
  const at = e.at.toISOString();
  const ids = [...new Set([e.actor.key, ...(e.actor.ids ?? [])])];
  const payload = canonicalJson({
    v: 1,
    type: e.type,
    requestId: e.requestId,
    actor: { key: e.actor.key, ids, label: e.actor.label },
    channel: e.channel,
    at,
    data: e.data,
  });
  return { chain: chainFor(e.requestId), request_id: e.requestId, type: e.type, actor: e.actor.key, actor_ids: ids, channel: e.channel, at, payload };
}

/** SQL fragment inserting the rows passed as a JSON array in parameter `$n`. */
export function auditInsertSql(param: string, from = ''): string {
  return `INSERT INTO audit_event (chain, request_id, type, actor, actor_ids, channel, at, payload)
    SELECT e.chain, e.request_id, e.type, e.actor, e.actor_ids, e.channel, e.at, e.payload
    FROM jsonb_to_recordset(${param}::jsonb) AS e(chain smallint, request_id uuid, type text, actor text, actor_ids text[], channel text, at timestamptz, payload text)${from}`;
}

export function personActor(person: PersonIdentity, key?: string): AuditActor {
  const ids = identityKeys(person);
  return { key: key ?? ids[0] ?? 'unknown', ids, label: person.name ?? person.email };
}

export const SYSTEM_ACTOR: AuditActor = { key: 'system' };
export const POLICY_ACTOR: AuditActor = { key: 'policy' };
