/**
 * Identities as requests and channels carry them: an email, a Slack user id, a Teams AAD object id, a name. These are
 * what someone presented; whether two of them are the same person is the people directory's answer
 * (src/domain/people.ts), never a comparison of these fields.
 */
import type { Identity } from './people';
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


/** The identities a person record carries, most specific first (Slack, Teams, then email), for the directory. */
export function identitiesOf(person: PersonIdentity | undefined | null): Identity[] {
  if (!person) return [];
  const out: Identity[] = [];
  if (person.slackUserId?.trim()) out.push({ kind: 'slack', value: person.slackUserId.trim() });
  const teams = normalizeTeamsId(person.teamsUserId);
  if (teams) out.push({ kind: 'teams', value: teams });
  const email = normalizeEmail(person.email);
  if (email) out.push({ kind: 'email', value: email });
  return out;
}

/** A short human label for cards and logs: name, then email, then channel id. */
export function displayName(person: PersonIdentity | undefined | null): string {
  if (!person) return 'unknown';
  return person.name || person.email || person.id || (person.slackUserId && `slack:${person.slackUserId}`) ||
    (person.teamsUserId && `teams:${person.teamsUserId}`) || 'unknown';
}
