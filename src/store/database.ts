import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export type Database = PrismaClient;

/**
 * Prisma over node-postgres. Prepared statements are named after their SQL so the hot paths (intake, votes) are
 * parsed and planned once per connection rather than on every call. A short connection timeout makes an unreachable
 * database surface as a 503 within a couple of seconds instead of a hanging request.
 */
export function createDatabase(opts: { url: string; poolSize: number; onError?: (err: Error) => void }): Database {
  const adapter = new PrismaPg(
    { connectionString: opts.url, max: opts.poolSize, connectionTimeoutMillis: 2_000, idleTimeoutMillis: 30_000 },
    {
      onPoolError: opts.onError,
      onConnectionError: opts.onError,
      statementNameGenerator: (q) => `cs_${createHash('sha1').update(q.sql).digest('hex').slice(0, 20)}`,
    },
  );
  return new PrismaClient({ adapter });
}

/** Postgres error codes we act on. */
export const PG = {
  uniqueViolation: '23505',
  appendOnly: '55000',
} as const;

/** Finds the SQLSTATE of an error thrown through Prisma's driver adapter, wherever the adapter put it. */
export function pgCode(err: unknown): string | undefined {
  const e = err as { code?: string; meta?: { code?: string; driverAdapterError?: { cause?: { originalCode?: string; code?: string } } }; cause?: unknown };
  const cause = e?.meta?.driverAdapterError?.cause;
  if (cause?.originalCode) return cause.originalCode;
  if (e?.code === 'P2002') return PG.uniqueViolation;
  if (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  return undefined;
}

/** True for errors that mean "the database is unreachable or overloaded", which we answer with 503. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const text = `${(err as Error)?.name ?? ''} ${(err as Error)?.message ?? ''} ${(err as { code?: string })?.code ?? ''}`;
  return /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|timeout exceeded when trying to connect|Connection terminated|DatabaseNotReachable|P1001|P1017|57P01|57P03|53300|the database system is (starting up|shutting down)/i.test(text);
}
