/**
 * BullMQ queues. Job ids are derived from the request (and target, and state version), so adding the same work twice
 * is a no-op while the job is retained, and a worker that runs it again finds the delivery row already settled.
 */
import { createHash } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueUnavailableError, type JobQueue } from '../ports/job-queue';

export const DELIVERY_QUEUE = 'delivery';
export const TIMER_QUEUE = 'timers';

export type DeliveryJob =
  | { name: 'card.post'; data: { requestId: string; target: string } }
  | { name: 'card.update'; data: { requestId: string; target: string } }
  | { name: 'request.changed'; data: { requestId: string } }
  | { name: 'notify'; data: { requestId: string } }
  | { name: 'callback'; data: { requestId: string } }
  | { name: 'card.remind'; data: { requestId: string; target: string; index: number } };

/** BullMQ job ids may not contain ':' and targets do (teams:19:…): hash them. */
export function targetKey(target: string): string {
  return createHash('sha1').update(target).digest('hex').slice(0, 16);
}
/** Makes a state version (`approved:2`) usable inside a BullMQ job id. */
export const jobIdPart = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '-');

export interface Queues {
  delivery: Queue;
  timers: Queue;
  jobs: JobQueue;
  addDelivery(job: DeliveryJob, jobId: string): Promise<void>;
  close(): Promise<void>;
}

export function createQueues(opts: {
  /** Producer connection: `maxRetriesPerRequest: 1, enableOfflineQueue: false` so an add fails fast while Redis is down. */
  connection: Redis;
  prefix: string;
  attempts: number;
  backoffMs: number;
}): Queues {
  const defaultJobOptions: JobsOptions = {
    attempts: opts.attempts,
    backoff: { type: 'countersign', delay: opts.backoffMs },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  };
  const delivery = new Queue(DELIVERY_QUEUE, { connection: opts.connection, prefix: opts.prefix, defaultJobOptions });
  const timers = new Queue(TIMER_QUEUE, { connection: opts.connection, prefix: opts.prefix, defaultJobOptions: { ...defaultJobOptions, attempts: 5 } });

  async function addDelivery(job: DeliveryJob, jobId: string): Promise<void> {
    await delivery.add(job.name, job.data, { jobId });
  }

  /** Every Redis failure of a producer call is the broker's state, not a bug: say so with a typed error. */
  const unavailable = (err: unknown): never => {
    throw err instanceof QueueUnavailableError ? err : new QueueUnavailableError(err);
  };

  const jobs: JobQueue = {
    async requestOpened({ id, targets, expiresAt }) {
      await Promise.all([
        // add() per target: one Lua call each, cheaper than addBulk's MULTI for the usual one or two targets.
        ...targets.map((target) => delivery.add('card.post', { requestId: id, target }, { jobId: `post.${id}.${targetKey(target)}` })),
        timers.add('expire', { requestId: id }, { jobId: `expire.${id}`, delay: Math.max(0, expiresAt.getTime() - Date.now()) }),
      ]).catch(unavailable);
    },
    async escalationDue(requestId, at) {
      await timers.add('escalate', { requestId }, { jobId: `escalate.${requestId}`, delay: Math.max(0, at.getTime() - Date.now()) }).catch(unavailable);
    },
    async reminderDue(requestId, index, at) {
      await timers.add('remind', { requestId }, { jobId: `remind.${requestId}.${index}`, delay: Math.max(0, at.getTime() - Date.now()) }).catch(unavailable);
    },
    async remindApprovers(requestId, target, index) {
      await addDelivery({ name: 'card.remind', data: { requestId, target, index } }, `remind.${requestId}.${targetKey(target)}.${index}`).catch(unavailable);
    },
    async expiryWarningDue(requestId, at) {
      await timers.add('warn', { requestId }, { jobId: `warn.${requestId}`, delay: Math.max(0, at.getTime() - Date.now()) }).catch(unavailable);
    },
    async requestChanged(requestId, version) {
      await addDelivery({ name: 'request.changed', data: { requestId } }, `changed.${requestId}.${jobIdPart(version)}`).catch(unavailable);
    },
    isAvailable: () => opts.connection.status === 'ready',
  };

  return {
    delivery,
    timers,
    jobs,
    addDelivery,
    async close() {
      await Promise.all([delivery.close(), timers.close()]);
    },
  };
}
