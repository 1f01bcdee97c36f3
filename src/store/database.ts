/**
 * The connection to PostgreSQL: Prisma (typed reads and writes) and the node-postgres pool it runs on (the measured
 * hot paths), transactions, and the classification of driver failures into "the database is unavailable" (503) versus
 * everything else. Only modules of src/store/ import this file's clients.
 */
import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client';

export type Database = PrismaClient;
/** The node-postgres pool Prisma runs on, for the few hot statements where Prisma's per-query overhead shows. */
export type SqlPool = Pick<pg.Pool, 'query' | 'connect'>;
/** A statement runner: the pool, or one client inside a transaction. */
export type Sql = Pick<pg.PoolClient, 'query'>;

/**
 * Raised (or found in an error's `cause` chain) when PostgreSQL cannot serve a statement at all: no connection could
 * be made, the connection broke mid-statement, or the server refused for lack of resources. Callers answer 503.
 */
export class DatabaseUnavailableError extends Error {
  constructor(override readonly cause: unknown) {
    super(`PostgreSQL is unavailable: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * SQLSTATEs that describe the server's state rather than the statement: connection exceptions (class 08), operator
 * intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now) and insufficient resources
 * (class 53, e.g. 53300 too many connections).
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code.startsWith('53') || code === '57P01' || code === '57P02' || code === '57P03';
}
/** Socket errnos: the server could not be reached at all. */
const NETWORK_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
/** Prisma's own codes for an unreachable server, a closed connection and a pool timeout. */
const PRISMA_UNAVAILABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Kinds @prisma/adapter-pg gives socket failures. */
const ADAPTER_UNAVAILABLE = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/** True for errors that mean "the database is unreachable or overloaded", which we answer with 503. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    if (e instanceof DatabaseUnavailableError) return true;
    const o = e as { code?: unknown; kind?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown } };
    if (typeof o.code === 'string') {
      if (e instanceof pg.DatabaseError && isUnavailableSqlState(o.code)) return true;
      if (NETWORK_ERRNOS.has(o.code) || PRISMA_UNAVAILABLE.has(o.code)) return true;
    }
    if (typeof o.kind === 'string' && ADAPTER_UNAVAILABLE.has(o.kind)) return true;
    if (o.kind === 'postgres' && typeof (o as { originalCode?: unknown }).originalCode === 'string' && isUnavailableSqlState((o as { originalCode: string }).originalCode)) return true;
    e = o.meta?.driverAdapterError ?? o.cause;
  }
  return false;
}

/**
 * One line saying why PostgreSQL could not serve a statement, for readiness and logs: the first non-empty message in
 * the error's cause chain (or of an AggregateError's parts: a refused connection to every address of `localhost` has
 * an empty message of its own), with its SQLSTATE or errno. Never empty.
 */
export function describeDatabaseError(err: unknown): string {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  let message = '';
  let code = '';
  while (queue.length) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const o = e as { message?: unknown; code?: unknown; cause?: unknown; errors?: unknown; meta?: { driverAdapterError?: unknown } };
    const text = typeof o.message === 'string' ? o.message.split('\n')[0].trim() : '';
    // Our own wrapper only repeats its cause's message after a prefix.
    if (!message && text && !(e instanceof DatabaseUnavailableError)) message = text;
    if (!code && typeof o.code === 'string' && o.code) code = o.code;
    if (Array.isArray(o.errors)) queue.push(...o.errors);
    queue.push(o.meta?.driverAdapterError, o.cause);
  }
  const name = (err as Error)?.name && (err as Error).name !== 'Error' ? (err as Error).name : 'database error';
  if (message && code && !message.includes(code)) return `${message} (${code})`;
  return message || (code ? `${name} (${code})` : name);
}

/** SQLSTATE 23505: a unique constraint refused the row (from node-postgres, or Prisma's P2002). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '23505' || code === 'P2002';
}

/**
 * The server answered with an error (it has a SQLSTATE): the statement or data is at fault. Anything else the driver
 * raises while connecting or talking (a connect timeout, "Connection terminated unexpectedly") means we could not
 * talk to the server at all.
 */
export function markUnavailable(err: unknown): unknown {
  if (err instanceof pg.DatabaseError || err instanceof DatabaseUnavailableError) return err;
  if (err instanceof TypeError || err instanceof RangeError) return err; // our own bug, not the server's state
  return new DatabaseUnavailableError(err);
}

/**
 * A pool whose connection failures carry {@link DatabaseUnavailableError}: node-postgres reports a connect timeout or a
 * dropped socket as a plain Error, and the only place that knows the difference between "could not connect" and "bad
 * statement" is here, where connections are made.
 */
class GuardedPool extends pg.Pool {
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    if (callback) return super.connect((err, client, done) => callback(err ? (markUnavailable(err) as Error) : err, client, done));
    return super.connect().catch((err: unknown) => {
      throw markUnavailable(err);
    });
  }

  // pool.query checks a client out and runs one statement; a socket dying mid-statement surfaces here.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as (err: Error | undefined, res: unknown) => void) : undefined;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const run = super.query as (...a: any[]) => any;
    if (callback) return run.call(this, ...args, (err: Error | undefined, res: unknown) => callback(err ? (markUnavailable(err) as Error) : err, res));
    return (run.call(this, ...args) as Promise<unknown>).catch((err: unknown) => {
      throw markUnavailable(err);
    });
  }
}

/**
 * Prisma and a node-postgres pool sharing the same connections. On this project's machines Prisma's raw-query path
 * cost about 0.26 ms of CPU per statement more than node-postgres (0.38 vs 0.12 ms for the same 30-parameter
 * statement), a third of the intake's budget at the bench's load, so the intake statement and the vote transaction use
 * the pool directly (see `npm run bench`); everything else goes through Prisma. Prepared statements are named after
 * their SQL so they are parsed and planned once per connection. A short connection timeout makes an unreachable
 * database surface as a 503 within a couple of seconds instead of a hanging request.
 */
export function createDatabase(opts: { url: string; poolSize: number; onError?: (err: Error) => void }): { db: Database; pool: pg.Pool } {
  const pool = new GuardedPool({ connectionString: opts.url, max: opts.poolSize, connectionTimeoutMillis: 2_000, idleTimeoutMillis: 30_000 });
  // An idle client's socket dying emits on the pool; without a listener that would crash the process.
  pool.on('error', opts.onError ?? (() => undefined));
  // A checked-out client between statements (a transaction, the sealer's lock) emits on itself instead, and the pool
  // listens only to idle clients: without this a database outage at that moment crashed the process. The statement
  // in progress or the next one fails on its own, and the pool discards the broken client when it is released.
  pool.on('connect', (client) => client.on('error', opts.onError ?? (() => undefined)));
  const adapter = new PrismaPg(pool, {
    disposeExternalPool: true,
    onPoolError: opts.onError,
    onConnectionError: opts.onError,
    statementNameGenerator: (q) => `cs_${createHash('sha1').update(q.sql).digest('hex').slice(0, 20)}`,
  });
  return { db: new PrismaClient({ adapter }), pool };
}

/**
 * Runs `fn` in one transaction on one pooled connection. No network call other than to Postgres may happen inside
 * (card updates and queue adds run after the commit).
 */
export async function withTransaction<T>(pool: SqlPool, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await runQuery(client, 'BEGIN');
    const result = await fn(client);
    await runQuery(client, 'COMMIT');
    return result;
  } catch (err) {
    // The ROLLBACK of a broken connection fails too; the original error is the one worth reporting.
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Runs one statement on the pool, marking connection-level failures as {@link DatabaseUnavailableError}. */
export async function runQuery<R extends pg.QueryResultRow>(sql: Sql, query: pg.QueryConfig | string, values?: unknown[]): Promise<pg.QueryResult<R>> {
  try {
    return await sql.query<R>(query as pg.QueryConfig, values);
  } catch (err) {
    throw markUnavailable(err);
  }
}
