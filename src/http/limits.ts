/**
 * Request-rate limits, on @fastify/rate-limit with its Redis store so every API node counts together: intakes per API
 * key per minute, and failed authentications per client address. A limited caller gets 429 with `Retry-After` and a
 * stable code (`rate_limited`, `too_many_auth_failures`).
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../domain/app-error';

/** A check created by @fastify/rate-limit's `createRateLimit` (one Redis script per call). */
type RateCheck = (req: FastifyRequest, opts?: { increment?: boolean }) => Promise<{ isAllowed: boolean; isExceeded?: boolean; remaining?: number; ttlInSeconds?: number }>;

export interface LimitSettings {
  redis: Redis;
  prefix: string;
  /** Default intakes per key per minute (0: none); a key's own override wins. */
  intakePerMinute: number;
  /** Failed authentications per address per minute before 429 (0: none). */
  authFailuresPerMinute: number;
}

export interface HttpLimits {
  /** An onRequest hook for the intake route (after authentication): one count per intake, per key. */
  intake(req: FastifyRequest): Promise<void>;
  /** Throws 429 when this address failed authentication too often; called before an uncached key is looked up. */
  refuseThrottled(req: FastifyRequest): Promise<void>;
  /** Counts one failed authentication for this address. */
  countFailure(req: FastifyRequest): Promise<void>;
}

const MINUTE = 60_000;

export async function registerLimits(app: FastifyInstance, s: LimitSettings): Promise<HttpLimits> {
  // global: false — only the checks below count; nothing else is limited implicitly. skipOnError: while Redis is down
  // intake answers 503 anyway (it cannot schedule), and reads should not fail because a counter cannot be read.
  await app.register(rateLimit, { global: false, redis: s.redis, nameSpace: `${s.prefix}:rl:`, skipOnError: true });
  const create = (app as unknown as { createRateLimit(o: object): RateCheck }).createRateLimit.bind(app);

  const intakeCheck = create({
    timeWindow: MINUTE,
    keyGenerator: (req: FastifyRequest) => `intake:${req.principal.id}`,
    max: async (req: FastifyRequest) => req.principal.limits.ratePerMinute ?? s.intakePerMinute,
    allowList: (req: FastifyRequest) => (req.principal.limits.ratePerMinute ?? s.intakePerMinute) === 0,
  });
  const authCheck = create({ timeWindow: MINUTE, max: s.authFailuresPerMinute, keyGenerator: (req: FastifyRequest) => `auth-failures:${req.ip}` });

  return {
    async intake(req) {
      const r = await intakeCheck(req);
      if (!r.isAllowed && r.isExceeded) {
        throw new AppError('rate_limited', `This API key sent more requests than it may per minute; retry in ${r.ttlInSeconds ?? 60} s.`, { retryAfterSeconds: r.ttlInSeconds ?? 60 });
      }
    },
    async refuseThrottled(req) {
      if (s.authFailuresPerMinute === 0) return;
      const r = await authCheck(req, { increment: false });
      // A peek does not count this attempt: the address is out of tries once the failures reached the limit.
      if (!r.isAllowed && (r.remaining ?? 1) <= 0) {
        throw new AppError('too_many_auth_failures', `Too many failed authentications from this address; retry in ${r.ttlInSeconds ?? 60} s.`, { retryAfterSeconds: r.ttlInSeconds ?? 60 });
      }
    },
    async countFailure(req) {
      if (s.authFailuresPerMinute === 0) return;
      await authCheck(req);
    },
  };
}
