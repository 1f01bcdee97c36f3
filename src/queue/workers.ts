/**
 * The workers: deliveries (cards, updates, reminders, notifications, callbacks) and timers (expiry, expiry warnings,
 * reminders, escalations, reconciliation).
 * Retryable failures are thrown back to BullMQ, whose backoff honours a platform's Retry-After; a job that runs out of
 * attempts leaves its delivery row pending, and the reconciler re-drives it. Only permanent failures settle a row as
 * failed (with an audit event saying why).
 *
 * A job claimed by a worker that dies (kill -9, a lost node) is taken back by BullMQ's stalled-job check once its lock
 * expires: `lockMs` and `stalledCheckMs` bound that wait (the defaults deliver it within about ten seconds of a
 * worker being up again). The delivery service then looks for a card the dead worker may have posted before posting.
 */
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type pino from 'pino';
import type { DecisionService } from '../services/decision-service';
import type { ExpiryWarningService } from '../services/expiry-warning-service';
import type { ReminderService } from '../services/reminder-service';
import { RetryableDeliveryError, type DeliveryService } from '../deliveries/delivery-service';
import { parseTarget } from '../ports/chat-channel';
import { changeJobs, DELIVERY_QUEUE, TIMER_QUEUE, type Queues } from './queues';

/** What a delivery job delivers, as metrics label it. */
export type DeliveryMetricKind = 'card' | 'card_update' | 'reminder' | 'notify' | 'callback';

export interface Workers {
  close(): Promise<void>;
}

/** Exponential backoff with jitter, unless the platform told us how long to wait. */
export function backoffDelay(attemptsMade: number, baseMs: number, err?: Error): number {
  const retryAfter = err instanceof RetryableDeliveryError ? err.retryAfterMs : undefined;
  if (retryAfter !== undefined && retryAfter >= 0) return retryAfter;
  const exp = baseMs * 2 ** Math.max(0, attemptsMade - 1);
  return Math.min(exp, 15 * 60_000) * (0.8 + Math.random() * 0.4);
}

export function startWorkers(deps: {
  connection: Redis;
  prefix: string;
  concurrency: number;
  backoffMs: number;
  /** How long a claimed job stays locked without renewal (renewed every half of it while the worker lives). */
  lockMs: number;
  /** How often a worker looks for jobs whose lock expired (their worker died) and takes them back. */
  stalledCheckMs: number;
  queues: Pick<Queues, 'addDelivery'>;
  deliveries: DeliveryService;
  decisions: Pick<DecisionService, 'expireIfDue' | 'escalate'>;
  expiryWarnings: Pick<ExpiryWarningService, 'warn'>;
  reminders: Pick<ReminderService, 'due'>;
  reconcile: () => Promise<unknown>;
  log: pino.Logger;
  /**
   * Each delivery attempt's outcome (metrics): what the delivery service answered (`delivered`, `skipped`, `failed`,
   * `already_done`), `retry` when it will be tried again, `error` for anything else thrown.
   */
  onDelivery?: (kind: DeliveryMetricKind, channel: string, outcome: string) => void;
}): Workers {
  const settings = { backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => backoffDelay(attemptsMade, deps.backoffMs, err) };

  /** Runs one delivery, reporting its outcome. */
  async function measured(kind: DeliveryMetricKind, channel: string, run: () => Promise<string>): Promise<string> {
    try {
      const outcome = await run();
      deps.onDelivery?.(kind, channel, outcome);
      return outcome;
    } catch (err) {
      deps.onDelivery?.(kind, channel, err instanceof RetryableDeliveryError ? 'retry' : 'error');
      throw err;
    }
  }

  const delivery = new Worker(
    DELIVERY_QUEUE,
    async (job: Job) => {
      const { requestId } = job.data as { requestId: string; target?: string };
      const log = deps.log.child({ requestId, job: job.name, jobId: job.id });
      const channel = typeof job.data.target === 'string' ? parseTarget(job.data.target).kind || 'unknown' : 'requester';
      switch (job.name) {
        case 'card.post':
          return measured('card', channel, () => deps.deliveries.postCard(requestId, job.data.target));
        case 'card.update':
          return measured('card_update', channel, () => deps.deliveries.updateCard(requestId, job.data.target));
        case 'card.remind':
          return measured('reminder', channel, () => deps.deliveries.remindApprovers(requestId, job.data.target, job.data.index));
        case 'notify':
          return measured('notify', channel, () => deps.deliveries.notifyRequester(requestId));
        case 'callback':
          return measured('callback', 'callback', () => deps.deliveries.sendCallback(requestId));
        case 'request.changed': {
          const plan = await deps.deliveries.plan(requestId);
          await Promise.all(changeJobs(requestId, plan).map((o) => deps.queues.addDelivery(o.job, o.jobId)));
          log.debug({ plan }, 'fanned out request change');
          return plan;
        }
        default:
          log.error('unknown delivery job');
          return undefined;
      }
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: deps.concurrency, settings, lockDuration: deps.lockMs, stalledInterval: deps.stalledCheckMs },
  );

  const timers = new Worker(
    TIMER_QUEUE,
    async (job: Job) => {
      if (job.name === 'expire') return deps.decisions.expireIfDue((job.data as { requestId: string }).requestId);
      if (job.name === 'escalate') return deps.decisions.escalate((job.data as { requestId: string }).requestId);
      if (job.name === 'remind') return deps.reminders.due((job.data as { requestId: string }).requestId);
      if (job.name === 'warn') return deps.expiryWarnings.warn((job.data as { requestId: string }).requestId);
      if (job.name === 'reconcile') return deps.reconcile();
      return undefined;
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: 2, settings, lockDuration: deps.lockMs, stalledInterval: deps.stalledCheckMs },
  );

  for (const w of [delivery, timers]) {
    w.on('error', (err) => deps.log.error({ err, worker: w.name }, 'worker error'));
    w.on('failed', (job, err) => {
      const final = job && job.attemptsMade >= (job.opts.attempts ?? 1);
      deps.log[final ? 'error' : 'warn']({ err, job: job?.name, jobId: job?.id, attemptsMade: job?.attemptsMade }, final ? 'job ran out of attempts; the reconciler will re-drive what it owes' : 'job failed; will retry');
    });
  }

  return {
    async close() {
      // close() waits for the jobs in progress to finish.
      await Promise.all([delivery.close(), timers.close()]);
    },
  };
}
