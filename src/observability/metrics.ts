/** Prometheus metrics (prom-client), one registry per app instance so tests can run several side by side. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from 'bullmq';

export interface Metrics {
  registry: Registry;
  intake: Counter<'outcome'>;
  intakeDuration: Histogram<'status'>;
  votes: Counter<'channel' | 'result'>;
  decisions: Counter<'status'>;
  /** Debts the reconciler found without a live job and enqueued again, by kind (card, update, notify, callback). */
  redrives: Counter<'kind'>;
  watchQueues(queues: Queue[]): void;
  /** Reports how many long-polls this node holds (read at scrape time). */
  watchLongPolls(count: () => number): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'countersign_process_' });
  let watched: Queue[] = [];
  let longPolls: () => number = () => 0;
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
  };
}
