/**
 * The {@link PostedMessages} memo on Redis: the reference of each card or notification, written the moment the
 * platform answers, kept a week (as long as a failed job is kept, and the reconciler re-drives decided requests).
 * PostgreSQL stays the record; this only bridges the gap between a platform's answer and the commit of the delivery row.
 */
import type { Redis } from 'ioredis';
import type { PostedMessages } from '../deliveries/delivery-service';
import type { MessageRef } from '../ports/chat-channel';
import { targetKey } from './queues';

const TTL_SECONDS = 7 * 24 * 3600;

export function createRedisPostedMessages(opts: { redis: Redis; prefix: string }): PostedMessages {
  const key = (requestId: string, target: string) => `${opts.prefix}:posted:${requestId}:${targetKey(target)}`;
  return {
    async remember(requestId, target, ref) {
      await opts.redis.set(key(requestId, target), JSON.stringify(ref), 'EX', TTL_SECONDS);
    },
    async recall(requestId, target) {
      const stored = await opts.redis.get(key(requestId, target));
      return stored ? (JSON.parse(stored) as MessageRef) : null;
    },
  };
}
