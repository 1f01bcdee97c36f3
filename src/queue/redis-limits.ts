/**
 * The per-key counters of src/ports/limits.ts on Redis, so that every API node sees the same counts. Each check is
 * one atomic script (read, compare and take in one step), so 50 simultaneous intakes against a limit of 20 take
 * exactly 20 slots.
 */
import type { Redis } from 'ioredis';
import type { LongPollGate, PendingCounter } from '../ports/limits';
import { QueueUnavailableError } from '../ports/job-queue';

/** INCR unless the count already reached the limit; an optional TTL refreshes on every take. */
const TAKE = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

/** DECR, never below zero (a release after a resync must not go negative). */
const GIVE = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 1 then redis.call('DEL', KEYS[1]) return 0 end
return redis.call('DECR', KEYS[1])`;

type Scripted = Redis & {
  csTake(key: string, max: number, ttlMs: number): Promise<number>;
  csGive(key: string): Promise<number>;
};

function scripted(redis: Redis): Scripted {
  const r = redis as Scripted;
  if (typeof r.csTake !== 'function') {
    redis.defineCommand('csTake', { numberOfKeys: 1, lua: TAKE });
    redis.defineCommand('csGive', { numberOfKeys: 1, lua: GIVE });
  }
  return r;
}

/** Redis failures are the broker's state, not a bug: intake answers 503 (see the error handler). */
function unavailable(err: unknown): never {
  throw err instanceof QueueUnavailableError ? err : new QueueUnavailableError(err);
}

export function createRedisLimits(opts: { redis: Redis; prefix: string }): { pending: PendingCounter; longPolls: LongPollGate } {
  const redis = scripted(opts.redis);
  const pendingKey = (id: string) => `${opts.prefix}:limits:pending:${id}`;
  const pollKey = (id: string) => `${opts.prefix}:limits:long-polls:${id}`;
  return {
    pending: {
      async acquire(apiKeyId, max) {
        if (max <= 0) return true;
        return (await redis.csTake(pendingKey(apiKeyId), max, 0).catch(unavailable)) === 1;
      },
      async release(apiKeyId) {
        await redis.csGive(pendingKey(apiKeyId)).catch(unavailable);
      },
      async resync(counts) {
        const existing: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pendingKey('*'), 'COUNT', 1000);
          existing.push(...keys);
          cursor = next;
        } while (cursor !== '0');
        const multi = redis.multi();
        for (const key of existing) if (!counts.has(key.slice(pendingKey('').length))) multi.del(key);
        for (const [id, n] of counts) multi.set(pendingKey(id), String(n));
        await multi.exec();
      },
    },
    longPolls: {
      async enter(apiKeyId, max, ttlMs) {
        if (max <= 0) return true;
        return (await redis.csTake(pollKey(apiKeyId), max, ttlMs).catch(unavailable)) === 1;
      },
      async leave(apiKeyId) {
        await redis.csGive(pollKey(apiKeyId)).catch(unavailable);
      },
    },
  };
}
