/**
 * Long-poll wake-ups across nodes over Redis pub/sub. One subscriber connection per process fans messages out to the
 * waiting handlers; a lost message only delays a waiter until its next periodic re-read.
 */
import type { Redis } from 'ioredis';
import type { RequestEvents } from '../ports/job-queue';

export function createRedisRequestEvents(opts: { publisher: Redis; subscriber: Redis; prefix: string }): RequestEvents & { close(): Promise<void> } {
  const channel = `${opts.prefix}:request-changed`;
  const waiters = new Map<string, Set<() => void>>();
  let subscribed: Promise<unknown> | undefined;

  opts.subscriber.on('message', (ch: string, requestId: string) => {
    if (ch !== channel) return;
    const set = waiters.get(requestId);
    if (!set) return;
    waiters.delete(requestId);
    for (const wake of set) wake();
  });

  return {
    async publishChanged(requestId) {
      await opts.publisher.publish(channel, requestId);
    },
    async waitForChange(requestId, timeoutMs, signal) {
      subscribed ??= opts.subscriber.subscribe(channel).catch(() => (subscribed = undefined));
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          waiters.get(requestId)?.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, timeoutMs));
        signal?.addEventListener('abort', done, { once: true });
        let set = waiters.get(requestId);
        if (!set) waiters.set(requestId, (set = new Set()));
        set.add(done);
      });
    },
    async close() {
      for (const set of waiters.values()) for (const wake of set) wake();
      waiters.clear();
    },
  };
}
