/**
 * Who is using the web console: sign-in (through the IdP, or with a one-time link an operator made with the CLI),
 * sessions, their CSRF tokens, and the console roles a person holds. The cookie carries a random secret; the database
 * holds only its SHA-256, so a copy of the sessions table signs nobody in. Every sign-in, refusal, link and sign-out is
 * an audit event. Roles follow the policy: an approver is a member of a group some rule names as approvers; an
 * auditor a member of a group in CONSOLE_AUDITOR_GROUPS.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { AppError } from '../domain/app-error';
import type { AuditEventInput } from '../domain/audit-event';
import { formatIdentity, identityKey, type Identity, type Person } from '../domain/people';
import { approverGroupsOf, type Policy } from '../domain/policy';
import type { ConsoleSessionRecord, ConsoleStore, NewConsoleSession, SignInMethod } from '../store/console-store';
import type { AuditService } from './audit-service';
import type { DirectoryService } from './directory-service';

export type ConsoleRole = 'approver' | 'auditor';

/** The signed-in person behind a console request. */
export interface ConsoleUser {
  session: ConsoleSessionRecord;
  person: { id: string; name: string };
  roles: ConsoleRole[];
  /** Sent back by the browser in `x-csrf-token` on every state-changing request. */
  csrfToken: string;
}

/** What the IdP said about who signed in (from a validated ID token). */
export interface IdpClaims {
  issuer: string;
  subject: string;
  email?: string;
  emailVerified: boolean;
  name?: string;
  /** When the person authenticated at the IdP (`auth_time`); null when the IdP did not say. */
  authTime: Date | null;
}

export interface ConsoleSessionService {
  /**
   * Makes a one-time sign-in link for a person (person id or identity): short-lived, single use, audited; only its
   * hash is stored. @throws AppError `not_found` for nobody the directory knows.
   */
  createLink(personRef: string, actor: string): Promise<{ url: string; personId: string; expiresAt: Date }>;
  /** Spends a link and opens a session. @throws AppError `link_invalid` (unknown, used or expired). */
  signInWithLink(token: string): Promise<{ cookie: string; session: NewConsoleSession }>;
  /**
   * Opens a session for whoever the IdP authenticated, mapped to a directory person by their `idp:` identity or (when
   * the policy links by email) their verified email, which records the link. @throws AppError `unknown_person`.
   */
  signInWithIdp(claims: IdpClaims): Promise<{ cookie: string; session: NewConsoleSession }>;
  /** The user behind a session cookie. @throws AppError `not_signed_in`. */
  authenticate(cookie: string | undefined): Promise<ConsoleUser>;
  /** Ends the session (idempotent). `why`: sign-out, or replaced by a new sign-in. */
  signOut(cookie: string | undefined, why: 'sign-out' | 'replaced'): Promise<void>;
  /** @throws AppError `csrf_failed` unless `header` is the session's CSRF token. */
  checkCsrf(cookie: string, header: string | undefined): void;
  /** The console roles the policy gives a person now. */
  rolesOf(personId: string): ConsoleRole[];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
/** The CSRF token is derived from the session secret: only who holds the cookie can compute it, nothing to store. */
const csrfOf = (cookie: string) => createHash('sha256').update(`csrf|${cookie}`).digest('base64url');
/** Cookie secrets are 32 random bytes, base64url: anything else is not ours (and is never looked up). */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function createConsoleSessionService(deps: {
  store: Pick<ConsoleStore, 'createSession' | 'findSession' | 'revokeSession' | 'createLink' | 'signInWithLink'>;
  directory: Pick<DirectoryService, 'current' | 'identify'>;
  audit: Pick<AuditService, 'append'>;
  policy: () => Policy;
  baseUrl: string;
  config: { sessionTtlSeconds: number; linkTtlSeconds: number; auditorGroups: readonly string[] };
  clock?: () => Date;
}): ConsoleSessionService {
  const clock = deps.clock ?? (() => new Date());

  function personOf(personId: string): Person | undefined {
    return deps.directory.current().person(personId);
  }

  function actorOf(personId: string) {
    const p = personOf(personId);
    return { key: personId, ids: [...new Set([personId, ...(p?.identities.map((l) => identityKey(l.identity)) ?? [])])], label: p?.name ?? personId };
  }

  /** Whether the person is a member of any of these policy groups (as the directory resolves their members now). */
  function isMember(personId: string, groups: readonly string[]): boolean {
    const policy = deps.policy();
    return deps.directory.current().members(groups.flatMap((g) => policy.groups[g] ?? [])).includes(personId);
  }

  function rolesOf(personId: string): ConsoleRole[] {
    const approverGroups = deps.policy().rules.flatMap(approverGroupsOf);
    const roles: ConsoleRole[] = [];
    if (isMember(personId, approverGroups)) roles.push('approver');
    if (isMember(personId, deps.config.auditorGroups)) roles.push('auditor');
    return roles;
  }

  function newSession(personId: string, signIn: SignInMethod, identity: string | null, authTime: Date): { cookie: string; session: NewConsoleSession; event: AuditEventInput } {
    const now = clock();
    const cookie = randomBytes(32).toString('base64url');
    const session: NewConsoleSession = {
      id: randomUUID(), tokenHash: sha256(cookie), personId, signIn, identity, authTime,
      expiresAt: new Date(now.getTime() + deps.config.sessionTtlSeconds * 1000),
    };
    const event: AuditEventInput = {
      type: 'console.signed_in', requestId: null, actor: actorOf(personId), channel: 'web', at: now,
      data: { session: session.id, person: personId, signIn, identity, authTime: authTime.toISOString(), expiresAt: session.expiresAt.toISOString() },
    };
    return { cookie, session, event };
  }

  return {
    rolesOf,

    async createLink(personRef, actor) {
      const person = deps.directory.current().resolveRef(personRef.trim());
      if (!person) throw new AppError('not_found', `Nobody in the people directory is "${personRef}".`, { field: 'person' });
      const now = clock();
      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now.getTime() + deps.config.linkTtlSeconds * 1000);
      await deps.store.createLink({ tokenHash: sha256(token), personId: person.id, createdBy: actor, createdAt: now, expiresAt }, [
        {
          type: 'console.link_created', requestId: null, actor: { key: actor }, channel: actor.startsWith('cli:') ? 'cli' : 'system', at: now,
          // The hash names the link in the trail without letting a reader of the trail use it.
          data: { person: person.id, linkHash: sha256(token), expiresAt: expiresAt.toISOString() },
        },
      ]);
      return { url: `${deps.baseUrl}/console/link/${token}`, personId: person.id, expiresAt };
    },

    async signInWithLink(token) {
      if (!TOKEN_PATTERN.test(token)) throw new AppError('link_invalid', 'This sign-in link is not valid. Ask an administrator for a new one.');
      let opened: ReturnType<typeof newSession> | undefined;
      const session = await deps.store.signInWithLink(sha256(token), clock(), (personId) => {
        // A link authenticates the person when it is used: that is the session's authentication time.
        opened = newSession(personId, 'link', null, clock());
        return { session: opened.session, events: [{ ...opened.event, data: { ...opened.event.data, linkHash: sha256(token) } }] };
      });
      if (!session || !opened) throw new AppError('link_invalid', 'This sign-in link was already used or has expired. Ask an administrator for a new one.');
      return { cookie: opened.cookie, session };
    },

    async signInWithIdp(claims) {
      const platform: Identity = { kind: 'idp', value: `${claims.issuer}|${claims.subject}` };
      const identified = await deps.directory.identify(
        { platform, ...(claims.emailVerified && claims.email ? { verifiedEmail: claims.email } : {}), ...(claims.name ? { name: claims.name } : {}) },
        'web',
      );
      const identity = formatIdentity(platform);
      if (!identified.person) {
        await deps.audit.append([{
          type: 'console.sign_in_refused', requestId: null, actor: { key: identity, ids: [identity] }, channel: 'web', at: clock(),
          data: { identity, email: claims.email ?? null, emailVerified: claims.emailVerified, reason: 'unknown_person' },
        }]);
        throw new AppError('unknown_person', 'Countersign does not know who you are: your sign-in is not linked to any person in its directory. Ask an administrator to add you.');
      }
      // Without auth_time the sign-in time is unknown: read it as long ago, so a step-up asks the IdP again (max_age,
      // which makes the IdP state it) rather than trusting a time nobody vouched for.
      const opened = newSession(identified.person.id, 'oidc', identity, claims.authTime ?? new Date(0));
      await deps.store.createSession(opened.session, [{ ...opened.event, data: { ...opened.event.data, verifiedEmail: claims.emailVerified ? claims.email ?? null : null } }]);
      return { cookie: opened.cookie, session: opened.session };
    },

    async authenticate(cookie) {
      if (!cookie || !TOKEN_PATTERN.test(cookie)) throw new AppError('not_signed_in', 'Sign in to use the console.');
      const session = await deps.store.findSession(sha256(cookie), clock());
      if (!session) throw new AppError('not_signed_in', 'Your console session has ended; sign in again.');
      const person = personOf(session.personId);
      // A person removed from the directory since signing in is signed out: every rule compares directory people.
      if (!person) throw new AppError('not_signed_in', 'Your console session has ended; sign in again.');
      return { session, person: { id: person.id, name: person.name ?? person.id }, roles: rolesOf(person.id), csrfToken: csrfOf(cookie) };
    },

    async signOut(cookie, why) {
      if (!cookie || !TOKEN_PATTERN.test(cookie)) return;
      await deps.store.revokeSession(sha256(cookie), clock(), (s) => [
        { type: 'console.signed_out', requestId: null, actor: actorOf(s.personId), channel: 'web', at: clock(), data: { session: s.id, person: s.personId, why } },
      ]);
    },

    checkCsrf(cookie, header) {
      const expected = Buffer.from(csrfOf(cookie));
      const given = Buffer.from(header ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new AppError('csrf_failed', 'This request lacks the console\'s CSRF token (header `x-csrf-token`); reload the console.', { field: 'x-csrf-token' });
      }
    },
  };

}
