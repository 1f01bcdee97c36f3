/**
 * Long-poll wake-ups across nodes over Redis pub/sub. One subscriber connection per process fans messages out to the
 * watches of this process. A waiting long-poll costs no query: it reads the request once, then sleeps until a change
 * is published or its wait ends. A watch is taken before that first read, so a change committed between the read
 * and the wait still wakes it. Pub/sub is at-most-once: a message lost while the subscriber reconnects means a client
 * sees `pending` at the end of its wait and asks again (its next read is fresh).
 */
import type { Redis } from 'ioredis';
import type { RequestEvents, RequestWatch } from '../ports/job-queue';

export function createRedisRequestEvents(opts: { publisher: Redis; subscriber: Redis; prefix: string }): RequestEvents & { close(): Promise<void>; watching(): number } {
  const channel = `${opts.prefix}:request-changed`;
  /** Per request, the wake-up of every watch on it. */
  const watches = new Map<string, Set<() => void>>();
  /** Listeners to every change (the console's live inboxes). */
  const everything = new Set<(requestId: string) => void>();
  let subscribed: Promise<unknown> | undefined;
  let sleeping = 0;

  opts.subscriber.on('message', (ch: string, requestId: string) => {
    if (ch !== channel) return;
    for (const wake of watches.get(requestId) ?? []) wake();
    for (const listener of everything) listener(requestId);
  });

  return {
    async publishChanged(requestId) {
      await opts.publisher.publish(channel, requestId);
    },

    watch(requestId): RequestWatch {
      subscribed ??= opts.subscriber.subscribe(channel).catch(() => (subscribed = undefined));
      let fired = false;
      let resolveWaiter: ((changed: boolean) => void) | undefined;
      const wake = () => {
        fired = true;
        resolveWaiter?.(true);
      };
      let set = watches.get(requestId);
      if (!set) watches.set(requestId, (set = new Set()));
      set.add(wake);
      const close = () => {
        const s = watches.get(requestId);
        s?.delete(wake);
        if (s?.size === 0) watches.delete(requestId);
        resolveWaiter?.(fired);
      };
      return {
        changed(timeoutMs, signal) {
          if (fired) return Promise.resolve(true);
          return new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
            const onAbort = () => finish(false);
            sleeping++;
            const finish = (changed: boolean) => {
              clearTimeout(timer);
              signal?.removeEventListener('abort', onAbort);
              if (resolveWaiter === finish) sleeping--;
              resolveWaiter = undefined;
              resolve(changed);
            };
            resolveWaiter = finish;
            if (signal?.aborted) return finish(false);
            signal?.addEventListener('abort', onAbort, { once: true });
          });
        },
        close,
      };
    },

    watchAll(listener) {
      subscribed ??= opts.subscriber.subscribe(channel).catch(() => (subscribed = undefined));
      everything.add(listener);
      return () => everything.delete(listener);
    },

    /** How many long-polls are asleep waiting for a change (for metrics and the long-poll bench). */
    watching() {
      return sleeping;
    },

    async close() {
      for (const s of watches.values()) for (const wake of s) wake();
      watches.clear();
      everything.clear();
    },
  };
}
