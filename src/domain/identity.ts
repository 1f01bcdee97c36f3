/**
 * Person identities across channels. A human may show up as an email (API, Teams UPN), a Slack user id or a Teams AAD
 * object id; every rule that asks "is this the same person?" goes through {@link sharesIdentity} so that Slack, Teams and
 * the API can never disagree.
 */
import type { RequesterType } from './policy';

export interface PersonIdentity {
  /** Free-form id of the requester (agent name, service account, user id). Not used to match people. */
  id?: string;
  email?: string;
  slackUserId?: string;
  teamsUserId?: string;
  name?: string;
}

/** Who asked: an agent, a service or a human, with the identities the request carries (all asserted by the caller). */
export interface RequesterIdentity extends PersonIdentity {
  id: string;
  type: RequesterType;
  model?: string;
}

export function normalizeEmail(email: string | undefined | null): string | undefined {
  const e = email?.trim().toLowerCase();
  return e ? e : undefined;
}

/** Teams AAD object ids are GUIDs: compare them case-insensitively. Slack ids are case-sensitive upper-case. */
function normalizeTeamsId(id: string | undefined | null): string | undefined {
  const t = id?.trim().toLowerCase();
  return t ? t : undefined;
}

/**
 * Every key that identifies this person, in the same notation policy files use for group members:
 * `alice@example.com`, `slack:U123`, `teams:<aad object id>`.
 */
export function identityKeys(person: PersonIdentity | undefined | null): string[] {
  if (!person) return [];
  const keys: string[] = [];
  const email = normalizeEmail(person.email);
  if (email) keys.push(email);
  if (person.slackUserId?.trim()) keys.push(`slack:${person.slackUserId.trim()}`);
  const teams = normalizeTeamsId(person.teamsUserId);
  if (teams) keys.push(`teams:${teams}`);
  return keys;
}

/**
 * The key a vote is counted under. Email first, because it is the one identity that both chat platforms resolve to,
 * so a person who clicks in Slack and in Teams is counted once.
 */
export function personKey(person: PersonIdentity): string | undefined {
  return identityKeys(person)[0];
}

/** Normalises a policy member entry (`Alice@Example.com`, `slack:U1`, `teams:GUID`) to its identity key. */
export function normalizeMemberKey(member: string): string {
  const m = member.trim();
  if (m.startsWith('slack:')) return `slack:${m.slice('slack:'.length).trim()}`;
  if (m.startsWith('teams:')) return `teams:${m.slice('teams:'.length).trim().toLowerCase()}`;
  return m.toLowerCase();
}

/** True when the two identities share any identifier (email case-insensitively, Slack id, Teams id). */
export function sharesIdentity(a: PersonIdentity | undefined | null, b: PersonIdentity | undefined | null): boolean {
  const keysA = identityKeys(a);
  if (keysA.length === 0) return false;
  const keysB = new Set(identityKeys(b));
  return keysA.some((k) => keysB.has(k));
}

/** A short human label for cards and logs: name, then email, then channel id. */
export function displayName(person: PersonIdentity | undefined | null): string {
  if (!person) return 'unknown';
  return person.name || person.email || person.id || (person.slackUserId && `slack:${person.slackUserId}`) ||
    (person.teamsUserId && `teams:${person.teamsUserId}`) || 'unknown';
}
