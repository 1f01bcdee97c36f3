/**
 * Prometheus metrics (prom-client), one registry per app instance so tests can run several side by side. Names carry
 * one `countersign_` prefix; the process and Node.js runtime metrics keep their standard names (`process_*`,
 * `nodejs_*`) so stock dashboards work. The README (Operations) lists every metric and what it means.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';

export interface Metrics {
  registry: Registry;
  intake: Counter<'outcome'>;
  intakeDuration: Histogram<'status'>;
  votes: Counter<'channel' | 'result'>;
  decisions: Counter<'status'>;
  /** Chat deliveries (cards, card updates, requester notifications) by channel and outcome. */
  deliveries: Counter<'kind' | 'channel' | 'outcome'>;
  /** Result callbacks by outcome. */
  callbacks: Counter<'outcome'>;
  /** Time from submission to the final state, for requests that waited for people (or expired). */
  decisionTime: Histogram<'status'>;
  /** Debts the reconciler found without a live job and enqueued again, by kind (card, update, notify, callback). */
  redrives: Counter<'kind'>;
  watchQueues(queues: Queue[]): void;
  /** Reports how many long-polls this node holds (read at scrape time). */
  watchLongPolls(count: () => number): void;
  /** Reads the backlog from PostgreSQL at scrape time: pending requests, and how far sealing lags the audit trail. */
  watchBacklog(read: { pending: () => Promise<number>; sealLagSeconds: () => Promise<number> }): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let watched: Queue[] = [];
  let longPolls: () => number = () => 0;
  let backlog: { pending: () => Promise<number>; sealLagSeconds: () => Promise<number> } | undefined;
  new Gauge({
    name: 'countersign_long_polls_waiting',
    help: 'Long-polls (GET /v1/requests/:id?wait=) this node is holding open',
    registers: [registry],
    collect() {
      this.set(longPolls());
    },
  });
  new Gauge({
    name: 'countersign_queue_jobs',
    help: 'Jobs in each BullMQ queue by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const q of watched) {
        // While Redis is down the gauge keeps its last values: a scrape must not fail because a queue cannot answer
        // (readiness reports Redis itself).
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed').catch(() => undefined);
        if (counts) for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
      }
    },
  });
  // Read from PostgreSQL, so every node reports the same service-wide value; while it is down they keep the last one.
  new Gauge({
    name: 'countersign_requests_pending',
    help: 'Requests waiting for a decision, service-wide (from PostgreSQL at scrape time)',
    registers: [registry],
    async collect() {
      const n = await backlog?.pending().catch(() => undefined);
      if (n !== undefined) this.set(n);
    },
  });
  new Gauge({
    name: 'countersign_audit_seal_lag_seconds',
    help: 'Age of the oldest audit event not yet sealed into the transparency log (0 when all are sealed)',
    registers: [registry],
    async collect() {
      const lag = await backlog?.sealLagSeconds().catch(() => undefined);
      if (lag !== undefined) this.set(lag);
    },
  });
  return {
    registry,
    intake: new Counter({ name: 'countersign_intake_total', help: 'Requests accepted at intake, by policy outcome', labelNames: ['outcome'], registers: [registry] }),
    intakeDuration: new Histogram({
      name: 'countersign_intake_duration_seconds',
      help: 'Intake latency (POST /v1/requests), by HTTP status',
      labelNames: ['status'],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    votes: new Counter({ name: 'countersign_votes_total', help: 'Vote attempts by channel and result (approve, deny or refusal code)', labelNames: ['channel', 'result'], registers: [registry] }),
    decisions: new Counter({ name: 'countersign_decisions_total', help: 'Requests reaching a final state after intake, by outcome', labelNames: ['status'], registers: [registry] }),
    deliveries: new Counter({
      name: 'countersign_deliveries_total',
      help: 'Chat delivery attempts (card, card_update, reminder, notify) by channel and outcome: delivered, skipped, already_done, retry, failed, error',
      labelNames: ['kind', 'channel', 'outcome'],
      registers: [registry],
    }),
    callbacks: new Counter({
      name: 'countersign_callbacks_total',
      help: 'Result callback attempts by outcome: delivered, skipped, already_done, retry, failed, error',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    decisionTime: new Histogram({
      name: 'countersign_decision_seconds',
      help: 'Time from submission to the final state for requests that waited (approved, denied, expired, cancelled)',
      labelNames: ['status'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600],
      registers: [registry],
    }),
    redrives: new Counter({
      name: 'countersign_reconciler_redrives_total',
      help: 'Deliveries the reconciler found owed in PostgreSQL with no live job (failed, finished or lost) and enqueued again, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    watchQueues(queues) {
      watched = queues;
    },
    watchLongPolls(count) {
      longPolls = count;
    },
    watchBacklog(read) {
      backlog = read;
    },
  };
}
