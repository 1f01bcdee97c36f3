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
import { DELIVERY_QUEUE, jobIdPart, TIMER_QUEUE, targetKey, type Queues } from './queues';

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
}): Workers {
  const settings = { backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => backoffDelay(attemptsMade, deps.backoffMs, err) };

  const delivery = new Worker(
    DELIVERY_QUEUE,
    async (job: Job) => {
      const { requestId } = job.data as { requestId: string; target?: string };
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const log = deps.log.child({ requestId, job: job.name, jobId: job.id });
      switch (job.name) {
        case 'card.post':
          return deps.deliveries.postCard(requestId, job.data.target, { last });
        case 'card.update':
          return deps.deliveries.updateCard(requestId, job.data.target, { last });
        case 'card.remind':
          return deps.deliveries.remindApprovers(requestId, job.data.target, job.data.index, { last });
        case 'notify':
          return deps.deliveries.notifyRequester(requestId, { last });
        case 'callback':
          return deps.deliveries.sendCallback(requestId, { last });
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
      deps.log[final ? 'error' : 'warn']({ err: { message: err.message }, job: job?.name, jobId: job?.id, attemptsMade: job?.attemptsMade }, final ? 'job failed for good' : 'job failed; will retry');
    });
  }

  return {
    async close() {
      // close() waits for the jobs in progress to finish.
      await Promise.all([delivery.close(), timers.close()]);
    },
  };
}
