/**
 * People and their identities. A person is one record linking every identity they have: emails, Slack user ids (with
 * their workspace), Teams AAD object ids (with their tenant), identity-provider subjects. Every rule that asks "is this
 * the same person?" compares person ids from a {@link Directory}, never raw identifiers, so identifiers that happen to
 * coincide (or differ) across channels can neither merge two people nor split one.
 *
 * Identity notation, used in policy files, the CLI and the API:
 *   carol@example.com            an email (compared lower-cased)
 *   slack:U0123ABCD              a Slack user id; `slack:T0123/U0123ABCD` names its workspace
 *   teams:<aad object id>        a Teams (Entra ID) user; `teams:<tenant id>/<aad object id>` names its tenant
 *   idp:<issuer>|<subject>       an OpenID Connect subject
 * A person id is a slug (`carol`, `ops-lead`); it never contains `@` or `:`, so it cannot be mistaken for an identity.
 */

export const IDENTITY_KINDS = ['email', 'slack', 'teams', 'idp'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

export interface Identity {
  kind: IdentityKind;
  /** Normalised: lower-case email, Slack user id as given (upper-case), lower-case AAD object id, `issuer|subject`. */
  value: string;
  /** Where the id is valid: the Slack workspace (team id) or the Teams tenant id; absent when not stated. */
  scope?: string;
}

export const PERSON_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,99}$/;

const EMAIL = /^[^\s@:]+@[^\s@]+\.[^\s@]+$/;
const SLACK_USER = /^[UW][A-Z0-9]{2,30}$/;
const SLACK_TEAM = /^[TE][A-Z0-9]{2,30}$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Parses identity notation; returns why not when the text is not an identity. */
export function parseIdentity(text: string): Identity | { error: string } {
  const t = text.trim();
  if (t.startsWith('slack:')) {
    const rest = t.slice('slack:'.length).trim();
    const [a, b] = rest.split('/');
    const user = b ?? a;
    const team = b === undefined ? undefined : a;
    if (!SLACK_USER.test(user)) return { error: `"${t}": a Slack user id looks like U0123ABCD` };
    if (team !== undefined && !SLACK_TEAM.test(team)) return { error: `"${t}": a Slack workspace id looks like T0123ABCD` };
    return team ? { kind: 'slack', value: user, scope: team } : { kind: 'slack', value: user };
  }
  if (t.startsWith('teams:')) {
    const rest = t.slice('teams:'.length).trim().toLowerCase();
    const [a, b] = rest.split('/');
    const user = b ?? a;
    const tenant = b === undefined ? undefined : a;
    if (!GUID.test(user)) return { error: `"${t}": a Teams user is named by its AAD object id (a GUID)` };
    if (tenant !== undefined && !GUID.test(tenant)) return { error: `"${t}": a Teams tenant id is a GUID` };
    return tenant ? { kind: 'teams', value: user, scope: tenant } : { kind: 'teams', value: user };
  }
  if (t.startsWith('idp:')) {
    const rest = t.slice('idp:'.length);
    const bar = rest.lastIndexOf('|');
    if (bar <= 0 || bar === rest.length - 1) return { error: `"${t}": an identity-provider subject is idp:<issuer>|<subject>` };
    return { kind: 'idp', value: rest };
  }
  if (EMAIL.test(t)) return { kind: 'email', value: t.toLowerCase() };
  return { error: `"${t}" is not an email, slack:<user id>, teams:<aad object id> or idp:<issuer>|<subject>` };
}

export function isIdentity(v: Identity | { error: string }): v is Identity {
  return !('error' in v);
}

/** The key an identity is found by (its scope is an attribute, not part of the key). */
export function identityKey(i: Identity): string {
  return i.kind === 'email' ? i.value : `${i.kind}:${i.value}`;
}

/** The identity in notation, scope included. */
export function formatIdentity(i: Identity): string {
  if (i.kind === 'email') return i.value;
  return i.scope ? `${i.kind}:${i.scope}/${i.value}` : `${i.kind}:${i.value}`;
}

/** Two identities with the same key match unless both state a scope and the scopes differ. */
export function sameIdentity(a: Identity, b: Identity): boolean {
  return identityKey(a) === identityKey(b) && (!a.scope || !b.scope || a.scope === b.scope);
}

/** How an identity came to belong to its person. */
export type LinkSource = 'declared' | 'slack-profile-email' | 'teams-verified-email' | 'idp-verified-email' | 'idp-subject';

export interface PersonIdentityLink {
  identity: Identity;
  verifiedBy: LinkSource;
}

/** Who declared a person: the policy file, an operator (CLI or admin API), or Countersign itself for an identity named alone. */
export type PersonSource = 'policy' | 'cli' | 'api' | 'implicit';

export interface Person {
  id: string;
  name?: string;
  source: PersonSource;
  identities: PersonIdentityLink[];
}

/**
 * The person an identity named on its own stands for, when no declared person has it: a group member listed by email,
 * an API key owner. Its id is the identity's key, which can never collide with a declared id.
 */
export function implicitPersonId(identity: Identity): string {
  return identityKey(identity);
}

/** An identity the directory cannot place, reduced to the id of the one-identity person it would be. */
export function isImplicitPersonId(id: string): boolean {
  return !PERSON_ID_PATTERN.test(id);
}

/** What a channel knows about the person behind an action, before the directory is asked. */
export interface PresentedIdentity {
  /** The identity the channel authenticated: the Slack user, the Teams user, the IdP subject. */
  platform?: Identity;
  /** An email the platform itself verified for this user (Slack profile email, Teams mail/UPN, IdP email_verified). */
  verifiedEmail?: string;
  /** Other identities the caller asserts (an attesting integration naming its user by email). */
  asserted?: Identity[];
  /** Display name, for cards and the trail only. */
  name?: string;
}

/** An immutable snapshot of the directory: lookups are in memory, so a vote costs no query. */
export class Directory {
  private readonly byKey = new Map<string, { personId: string; identity: Identity }>();
  private readonly people = new Map<string, Person>();

  private constructor(people: Person[]) {
    for (const p of people) {
      this.people.set(p.id, p);
      for (const l of p.identities) this.byKey.set(identityKey(l.identity), { personId: p.id, identity: l.identity });
    }
  }

  /**
   * Builds a directory from declared people plus the identities named on their own (group members, key owners), each of
   * which becomes an implicit person unless a declared person has it.
   * @returns every problem at once: an identity claimed by two people, a malformed person id.
   */
  static build(declared: Person[], mentioned: Identity[] = []): { ok: true; directory: Directory } | { ok: false; problems: string[] } {
    const problems: string[] = [];
    const owner = new Map<string, string>();
    const ids = new Set<string>();
    for (const p of declared) {
      if (p.source !== 'implicit' && !PERSON_ID_PATTERN.test(p.id)) problems.push(`person "${p.id}": ids use a-z, 0-9, . _ - (no @ or :)`);
      if (ids.has(p.id)) problems.push(`person "${p.id}" is declared twice`);
      ids.add(p.id);
      for (const l of p.identities) {
        const key = identityKey(l.identity);
        const other = owner.get(key);
        if (other && other !== p.id) problems.push(`identity ${formatIdentity(l.identity)} is claimed by two people: "${other}" and "${p.id}"`);
        owner.set(key, p.id);
      }
    }
    if (problems.length) return { ok: false, problems };
    const all = [...declared];
    for (const identity of mentioned) {
      const key = identityKey(identity);
      if (owner.has(key)) continue;
      owner.set(key, key);
      all.push({ id: implicitPersonId(identity), source: 'implicit', identities: [{ identity, verifiedBy: 'declared' }] });
    }
    return { ok: true, directory: new Directory(all) };
  }

  static empty(): Directory {
    return new Directory([]);
  }

  /** Every person, declared and implicit. */
  list(): Person[] {
    return [...this.people.values()];
  }

  person(id: string): Person | undefined {
    return this.people.get(id);
  }

  /** The person who has this identity (scope-compatible), or undefined. */
  resolve(identity: Identity): Person | undefined {
    const hit = this.byKey.get(identityKey(identity));
    if (!hit || !sameIdentity(hit.identity, identity)) return undefined;
    return this.people.get(hit.personId);
  }

  /** A person id, or any identity in notation, to the person it names. */
  resolveRef(ref: string): Person | undefined {
    if (PERSON_ID_PATTERN.test(ref)) return this.people.get(ref);
    const parsed = parseIdentity(ref);
    return isIdentity(parsed) ? this.resolve(parsed) : undefined;
  }

  /**
   * The person id an identity stands for: its directory person, or the implicit id of the identity alone. Two
   * identities that map to the same id are the same person for every rule.
   */
  personIdOf(identity: Identity): string {
    return this.resolve(identity)?.id ?? implicitPersonId(identity);
  }

  /**
   * Who presented themselves: by the identity the platform authenticated first, then (when `linkByEmail`) by the email
   * the platform verified, when exactly one person has it — in which case the platform identity should be linked to
   * that person (`link`). Asserted identities (an attesting integration's claim) come last.
   */
  identify(presented: PresentedIdentity, opts: { linkByEmail: boolean }): { person?: Person; link?: Identity; via?: 'platform' | 'email' | 'asserted' } {
    if (presented.platform) {
      const person = this.resolve(presented.platform);
      if (person) return { person, via: 'platform' };
    }
    if (opts.linkByEmail && presented.verifiedEmail) {
      const person = this.resolve({ kind: 'email', value: presented.verifiedEmail.trim().toLowerCase() });
      if (person) return { person, link: presented.platform, via: 'email' };
    }
    for (const a of presented.asserted ?? []) {
      const person = this.resolve(a);
      if (person) return { person, via: 'asserted' };
    }
    return {};
  }

  /** The person ids of a list of member references (person ids or identities), unknown references skipped. */
  members(refs: string[]): string[] {
    const out = new Set<string>();
    for (const r of refs) {
      const p = this.resolveRef(r);
      if (p) out.add(p.id);
    }
    return [...out];
  }
}

/** A person's label for cards and the trail: their name, else their id. */
export function personLabel(person: Pick<Person, 'id' | 'name'> | undefined, fallback = 'unknown'): string {
  return person?.name || person?.id || fallback;
}
