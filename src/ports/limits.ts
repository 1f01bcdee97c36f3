/**
 * Counters that bound what one API key holds at once, shared by every node: its pending requests and its open
 * long-polls. (Request RATES are limited by @fastify/rate-limit in the HTTP layer.)
 */

/** How many requests of a key are pending. PostgreSQL is the truth; the counter is re-synced by the reconciler. */
export interface PendingCounter {
  /** Takes a pending slot for the key; false (nothing taken) when it already holds `max`. `max` 0 means unlimited. */
  acquire(apiKeyId: string, max: number): Promise<boolean>;
  /** Gives a slot back (a request left pending, or its insert did not happen). */
  release(apiKeyId: string): Promise<void>;
  /** Sets every key's count to PostgreSQL's (keys absent from `counts` go to zero). */
  resync(counts: Map<string, number>): Promise<void>;
}

/** Concurrent long-polls per key. */
export interface LongPollGate {
  /**
   * Enters a long-poll for the key; false when it already holds `max` (0: unlimited). A slot a crashed node never left
   * expires after `ttlMs`.
   */
  enter(apiKeyId: string, max: number, ttlMs: number): Promise<boolean>;
  leave(apiKeyId: string): Promise<void>;
}
