/**
 * Bounds the work Slack interactions start after their ack. Acks are cheap; the vote behind each click is a database
 * transaction. Run without a bound, a burst of clicks puts thousands of callbacks ahead of every new HTTP request on
 * the event loop and acks slow down past Slack's patience. With a bound, at most `concurrency` jobs compete with the
 * acks and the rest wait their turn in order; past `maxQueued` the caller is told to shed the click.
 *
 * Hand-written because the well-known limiters (p-limit, p-queue) are ESM-only in their maintained versions.
 */
export interface WorkLimiter {
  /** Queues `job`; false when the queue is full (the job is not run). */
  run(job: () => Promise<void>): boolean;
  /** Jobs running or waiting. */
  size(): number;
  /** Resolves when nothing is running or waiting (for graceful shutdown). */
  idle(): Promise<void>;
}

export function createWorkLimiter(opts: { concurrency: number; maxQueued: number; onError: (err: unknown) => void }): WorkLimiter {
  const waiting: (() => Promise<void>)[] = [];
  let running = 0;
  let idleWaiters: (() => void)[] = [];

  function next(): void {
    while (running < opts.concurrency && waiting.length > 0) {
      const job = waiting.shift() as () => Promise<void>;
      running++;
      job()
        .catch(opts.onError)
        .finally(() => {
          running--;
          next();
        });
    }
    if (running === 0 && waiting.length === 0 && idleWaiters.length) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const resolve of w) resolve();
    }
  }

  return {
    run(job) {
      if (waiting.length >= opts.maxQueued) return false;
      waiting.push(job);
      next();
      return true;
    },
    size: () => running + waiting.length,
    idle: () => (running === 0 && waiting.length === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))),
  };
}
