/**
 * The web console's storage: sessions (by the SHA-256 of the cookie's secret) and one-time sign-in links (by the
 * SHA-256 of their token), each change written in one transaction with its audit events. The console's inbox reads
 * requests through the request store.
 */
import type { AuditEventInput } from '../domain/audit-event';
import { appendAuditEvents } from './audit-store';
import { runQuery, withTransaction, type SqlPool } from './database';

export type SignInMethod = 'oidc' | 'link';

/** A live session as read back. */
export interface ConsoleSessionRecord {
  id: string;
  personId: string;
  signIn: SignInMethod;
  /** The IdP identity (idp:<issuer>|<subject>) behind an oidc session; null for a link session. */
  identity: string | null;
  authTime: Date;
  createdAt: Date;
  expiresAt: Date;
}

export interface NewConsoleSession extends Omit<ConsoleSessionRecord, 'createdAt'> {
  tokenHash: string;
}

/** Port of the console's sessions and sign-in links. */
export interface ConsoleStore {
  /** Records a new session and its audit events together. */
  createSession(session: NewConsoleSession, events: AuditEventInput[]): Promise<void>;
  /** The session with this token hash when it is neither revoked nor expired at `now`; null otherwise. */
  findSession(tokenHash: string, now: Date): Promise<ConsoleSessionRecord | null>;
  /**
   * Revokes a live session (guarded: a second call changes nothing) with its audit events.
   * @returns whether it was live and is now revoked (events are written only then).
   */
  revokeSession(tokenHash: string, now: Date, events: (s: ConsoleSessionRecord) => AuditEventInput[]): Promise<boolean>;
  /** Stores a one-time link's hash with its audit event. */
  createLink(link: { tokenHash: string; personId: string; createdBy: string; createdAt: Date; expiresAt: Date }, events: AuditEventInput[]): Promise<void>;
  /**
   * Spends a one-time link and opens its session in ONE transaction: the guarded update marks it used only when it is
   * unused and unexpired, so two clicks race to one session.
   * @returns the session opened, or null when the link is unknown, used or expired (nothing written).
   */
  signInWithLink(
    tokenHash: string,
    now: Date,
    open: (personId: string) => { session: NewConsoleSession; events: AuditEventInput[] },
  ): Promise<NewConsoleSession | null>;
  /** Deletes sessions and links expired before `before`. Returns how many rows went. */
  purgeExpired(before: Date): Promise<number>;
}

interface SessionRow {
  id: string;
  person_id: string;
  sign_in: SignInMethod;
  identity: string | null;
  auth_time: Date;
  created_at: Date;
  expires_at: Date;
}

const toSession = (r: SessionRow): ConsoleSessionRecord => ({
  id: r.id,
  personId: r.person_id,
  signIn: r.sign_in,
  identity: r.identity,
  authTime: new Date(r.auth_time),
  createdAt: new Date(r.created_at),
  expiresAt: new Date(r.expires_at),
});

const INSERT_SESSION = `INSERT INTO console_session (id, token_hash, person_id, sign_in, identity, auth_time, created_at, expires_at)
  VALUES ($1::uuid, $2, $3, $4, $5, $6::timestamptz, $7::timestamptz, $8::timestamptz)`;

export function createConsoleStore(deps: { pool: SqlPool }): ConsoleStore {
  const { pool } = deps;
  const insertSession = (sql: Pick<SqlPool, 'query'>, s: NewConsoleSession, now: Date) =>
    runQuery(sql, { name: 'cs_console_session_insert', text: INSERT_SESSION, values: [s.id, s.tokenHash, s.personId, s.signIn, s.identity, s.authTime, now, s.expiresAt] });

  return {
    async createSession(session, events) {
      await withTransaction(pool, async (tx) => {
        await insertSession(tx, session, events[0]?.at ?? new Date());
        await appendAuditEvents(tx, events);
      });
    },

    async findSession(tokenHash, now) {
      const { rows } = await runQuery<SessionRow>(pool, {
        name: 'cs_console_session_find',
        text: `SELECT id, person_id, sign_in, identity, auth_time, created_at, expires_at FROM console_session
          WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2::timestamptz`,
        values: [tokenHash, now],
      });
      return rows[0] ? toSession(rows[0]) : null;
    },

    async revokeSession(tokenHash, now, events) {
      return withTransaction(pool, async (tx) => {
        const { rows } = await runQuery<SessionRow>(tx, {
          text: `UPDATE console_session SET revoked_at = $2::timestamptz WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2::timestamptz
            RETURNING id, person_id, sign_in, identity, auth_time, created_at, expires_at`,
          values: [tokenHash, now],
        });
        if (!rows[0]) return false;
        await appendAuditEvents(tx, events(toSession(rows[0])));
        return true;
      });
    },

    async createLink(link, events) {
      await withTransaction(pool, async (tx) => {
        await runQuery(tx, {
          text: `INSERT INTO console_sign_in_link (token_hash, person_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz)`,
          values: [link.tokenHash, link.personId, link.createdBy, link.createdAt, link.expiresAt],
        });
        await appendAuditEvents(tx, events);
      });
    },

    async signInWithLink(tokenHash, now, open) {
      return withTransaction(pool, async (tx) => {
        const { rows } = await runQuery<{ person_id: string }>(tx, {
          text: `UPDATE console_sign_in_link SET used_at = $2::timestamptz WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2::timestamptz RETURNING person_id`,
          values: [tokenHash, now],
        });
        if (!rows[0]) return null;
        const { session, events } = open(rows[0].person_id);
        await insertSession(tx, session, now);
        await appendAuditEvents(tx, events);
        return session;
      });
    },

    async purgeExpired(before) {
      const a = await runQuery(pool, { text: 'DELETE FROM console_session WHERE expires_at < $1::timestamptz', values: [before] });
      const b = await runQuery(pool, { text: 'DELETE FROM console_sign_in_link WHERE expires_at < $1::timestamptz', values: [before] });
      return (a.rowCount ?? 0) + (b.rowCount ?? 0);
    },
  };
}
