/**
 * What an audit event is, before it reaches storage: its type, the request it belongs to, who acted, through which
 * channel, when, and its data. The canonical payload (the exact bytes an auditor re-verifies) is built here too, so
 * the rule for what an event says lives beside the rules that produce events, not in the database layer.
 */
import { canonicalJson } from './canonical-json';
import { identityKeys, type PersonIdentity } from './identity';

export interface AuditActor {
  /** Canonical actor: a person key (email, slack:U…, teams:…), `key:<api key name>`, `agent:<id>`, `policy` or `system`. */
  key: string;
  /** Every identifier of the actor, for look-ups by any of them. */
  ids?: string[];
  label?: string;
  /** The API key that carried the action on this actor's behalf, when one did. */
  via?: string;
}

export interface AuditEventInput {
  type: string;
  requestId: string | null;
  actor: AuditActor;
  channel: string;
  at: Date;
  data: Record<string, unknown>;
}

/** Every id an event can be found by: the actor's key and each of its identities, without duplicates. */
export function actorIds(actor: AuditActor): string[] {
  return [...new Set([actor.key, ...(actor.ids ?? [])])];
}

/** The canonical JSON of a whole event: the bytes the trail stores and an export is verified against. */
export function auditPayload(e: AuditEventInput): string {
  return canonicalJson({
    v: 1,
    type: e.type,
    requestId: e.requestId,
    actor: { key: e.actor.key, ids: actorIds(e.actor), label: e.actor.label, via: e.actor.via },
    channel: e.channel,
    at: e.at.toISOString(),
    data: e.data,
  });
}

export function personActor(person: PersonIdentity, key?: string): AuditActor {
  const ids = identityKeys(person);
  return { key: key ?? ids[0] ?? 'unknown', ids, label: person.name ?? person.email };
}

export const SYSTEM_ACTOR: AuditActor = { key: 'system' };
export const POLICY_ACTOR: AuditActor = { key: 'policy' };
