import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client';

export type Database = PrismaClient;
/** The node-postgres pool Prisma runs on, for the few hot statements where Prisma's per-query overhead shows. */
export type SqlPool = Pick<pg.Pool, 'query' | 'connect'>;

/**
 * Prisma over node-postgres. Prepared statements are named after their SQL so the hot paths (intake, votes) are
 * parsed and planned once per connection rather than on every call. A short connection timeout makes an unreachable
 * database surface as a 503 within a couple of seconds instead of a hanging request.
 */
export function createDatabase(opts: { url: string; poolSize: number; onError?: (err: Error) => void }): Database {
  return createDatabaseWithPool(opts).db;
}

/**
 * Prisma and a node-postgres pool sharing the same connections. On this project's machines Prisma's raw-query path
 * cost about 0.26 ms of CPU per statement more than node-postgres (0.38 vs 0.12 ms for the same 30-parameter
 * statement), a third of the intake's budget at the bench's load, so the intake statement and the vote transaction use
 * the pool directly (see `npm run bench`); everything else goes through Prisma.
 */
export function createDatabaseWithPool(opts: { url: string; poolSize: number; onError?: (err: Error) => void }): { db: Database; pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize, connectionTimeoutMillis: 2_000, idleTimeoutMillis: 30_000 });
  if (opts.onError) pool.on('error', opts.onError);
  else pool.on('error', () => undefined);
  const adapter = new PrismaPg(
    pool,
    {
      disposeExternalPool: true,
      onPoolError: opts.onError,
      onConnectionError: opts.onError,
      statementNameGenerator: (q) => `cs_${createHash('sha1').update(q.sql).digest('hex').slice(0, 20)}`,
    },
  );
  return { db: new PrismaClient({ adapter }), pool };
}

/** True for errors that mean "the database is unreachable or overloaded", which we answer with 503. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const text = `${(err as Error)?.name ?? ''} ${(err as Error)?.message ?? ''} ${(err as { code?: string })?.code ?? ''}`;
  return /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|timeout exceeded when trying to connect|Connection terminated|DatabaseNotReachable|P1001|P1017|57P01|57P03|53300|the database system is (starting up|shutting down)/i.test(text);
}

/** A statement runner: the pool, or one client inside a transaction. */
export type Sql = Pick<pg.PoolClient, 'query'>;

/**
 * Runs `fn` in one transaction on one pooled connection. No network call other than to Postgres may happen inside
 * (card updates and queue adds run after the commit).
 */
export async function withTransaction<T>(pool: SqlPool, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
