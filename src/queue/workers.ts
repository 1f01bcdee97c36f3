/**
 * The workers: deliveries (cards, updates, notifications, callbacks) and timers (expiry, expiry warnings, reminders, escalations, reconciliation).
 * Retryable failures are thrown back to BullMQ, whose backoff honours a platform's Retry-After; the last attempt
 * records a permanent failure instead of throwing, so every delivery ends in a row and an audit event.
 */
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type pino from 'pino';
import type { DecisionService } from '../services/decision-service';
import type { ExpiryWarningService } from '../services/expiry-warning-service';
import type { ReminderService } from '../services/reminder-service';
import { RetryableDeliveryError, type DeliveryService } from '../deliveries/delivery-service';
import { parseTarget } from '../ports/chat-channel';
import { DELIVERY_QUEUE, jobIdPart, TIMER_QUEUE, targetKey, type Queues } from './queues';

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
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const log = deps.log.child({ requestId, job: job.name, jobId: job.id });
      const channel = typeof job.data.target === 'string' ? parseTarget(job.data.target).kind || 'unknown' : 'requester';
      switch (job.name) {
        case 'card.post':
          return measured('card', channel, () => deps.deliveries.postCard(requestId, job.data.target, { last }));
        case 'card.update':
          return measured('card_update', channel, () => deps.deliveries.updateCard(requestId, job.data.target, { last }));
        case 'card.remind':
          return measured('reminder', channel, () => deps.deliveries.remindApprovers(requestId, job.data.target, job.data.index, { last }));
        case 'notify':
          return measured('notify', channel, () => deps.deliveries.notifyRequester(requestId, { last }));
        case 'callback':
          return measured('callback', 'callback', () => deps.deliveries.sendCallback(requestId, { last }));
        case 'request.changed': {
          const plan = await deps.deliveries.plan(requestId);
          const v = jobIdPart(plan.version);
          await Promise.all([
            ...plan.cardTargets.map((target) =>
              deps.queues.addDelivery({ name: 'card.update', data: { requestId, target } }, `update.${requestId}.${targetKey(target)}.${v}`)),
            plan.notify ? deps.queues.addDelivery({ name: 'notify', data: { requestId } }, `notify.${requestId}`) : undefined,
            plan.callback ? deps.queues.addDelivery({ name: 'callback', data: { requestId } }, `callback.${requestId}`) : undefined,
          ]);
          log.debug({ plan }, 'fanned out request change');
          return plan;
        }
        default:
          log.error('unknown delivery job');
          return undefined;
      }
    },
    { connection: deps.connection, prefix: deps.prefix, concurrency: deps.concurrency, settings },
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
    { connection: deps.connection, prefix: deps.prefix, concurrency: 2, settings },
  );

  for (const w of [delivery, timers]) {
    w.on('error', (err) => deps.log.error({ err, worker: w.name }, 'worker error'));
    w.on('failed', (job, err) => {
      const final = job && job.attemptsMade >= (job.opts.attempts ?? 1);
      deps.log[final ? 'error' : 'warn']({ err, job: job?.name, jobId: job?.id, attemptsMade: job?.attemptsMade }, final ? 'job failed for good' : 'job failed; will retry');
    });
  }

  return {
    async close() {
      // close() waits for the jobs in progress to finish.
      await Promise.all([delivery.close(), timers.close()]);
    },
  };
}
