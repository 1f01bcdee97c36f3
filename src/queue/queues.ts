/**
 * BullMQ queues. Job ids are derived from the request (and target, and state version), so adding the same work twice
 * is a no-op while the job is retained, and a worker that runs it again finds the delivery row already settled.
 */
import { createHash } from 'node:crypto';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueUnavailableError, type ChangeDebts, type DeliveryRedrive, type JobQueue, type RedriveKind } from '../ports/job-queue';

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

/** The deterministic job id of each debt: one live job per debt, whoever enqueues it. */
export const jobIds = {
  post: (requestId: string, target: string) => `post.${requestId}.${targetKey(target)}`,
  update: (requestId: string, target: string, version: string) => `update.${requestId}.${targetKey(target)}.${jobIdPart(version)}`,
  notify: (requestId: string) => `notify.${requestId}`,
  callback: (requestId: string) => `callback.${requestId}`,
  expire: (requestId: string) => `expire.${requestId}`,
};

/** The jobs that pay what a change owes. */
export function changeJobs(requestId: string, debts: ChangeDebts): { kind: RedriveKind; job: DeliveryJob; jobId: string }[] {
  return [
    ...debts.cardTargets.map((target) => ({ kind: 'update' as const, job: { name: 'card.update' as const, data: { requestId, target } }, jobId: jobIds.update(requestId, target, debts.version) })),
    ...(debts.notify ? [{ kind: 'notify' as const, job: { name: 'notify' as const, data: { requestId } }, jobId: jobIds.notify(requestId) }] : []),
    ...(debts.callback ? [{ kind: 'callback' as const, job: { name: 'callback' as const, data: { requestId } }, jobId: jobIds.callback(requestId) }] : []),
  ];
}

export interface Queues {
  delivery: Queue;
  timers: Queue;
  jobs: JobQueue;
  addDelivery(job: DeliveryJob, jobId: string): Promise<void>;
  redrive: DeliveryRedrive;
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
        ...targets.map((target) => delivery.add('card.post', { requestId: id, target }, { jobId: jobIds.post(id, target) })),
        timers.add('expire', { requestId: id }, { jobId: jobIds.expire(id), delay: Math.max(0, expiresAt.getTime() - Date.now()) }),
      ]).catch(unavailable);
    },
    async escalationDue(requestId, at) {
      await timers.add('escalate', { requestId }, { jobId: `escalate.${requestId}`, delay: Math.max(0, at.getTime() - Date.now()) }).catch(unavailable);
    },
    async reminderDue(requestId, index, at) {
      await timers.add('remind', { requestId }, { jobId: `remind.${requestId}.${index}`, delay: Math.max(0, at.getTime() - Date.now()) }).catch(unavailable);
    },
    async remindApprovers(requestId, target, index) {
      // Re-driven by the reconciler while its row is pending: a finished job under this id must not block the next try.
      await ensureDelivery({ name: 'card.remind', data: { requestId, target, index } }, `remind.${requestId}.${targetKey(target)}.${index}`).catch(unavailable);
    },
    async expiryWarningDue(requestId, at) {
      await timers.add('warn', { requestId }, { jobId: `warn.${requestId}`, delay: Math.max(0, at.getTime() - Date.now()) }).catch(unavailable);
    },
    async requestChanged(requestId, version) {
      await addDelivery({ name: 'request.changed', data: { requestId } }, `changed.${requestId}.${jobIdPart(version)}`).catch(unavailable);
    },
    isAvailable: () => opts.connection.status === 'ready',
  };

  /**
   * Makes sure a live job pays this debt. A finished job keeps its id for days (removeOnComplete, removeOnFail), which
   * makes add() under that id a no-op: a debt still owed after its job finished would never be paid again. So a
   * finished job is removed and the debt enqueued afresh; a live one is left alone. Resolves true when it enqueued.
   */
  async function ensureDelivery(job: DeliveryJob, jobId: string): Promise<boolean> {
    const existing = await delivery.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return false;
      // Removal fails while another node holds the job's lock (it is re-driving it right now): leave it to that node.
      if (!(await existing.remove().then(() => true, () => false))) return false;
    }
    await delivery.add(job.name, job.data, { jobId });
    return true;
  }

  const redrive: DeliveryRedrive = {
    async cards({ id, targets, expiresAt }) {
      const added = await Promise.all(targets.map((target) => ensureDelivery({ name: 'card.post', data: { requestId: id, target } }, jobIds.post(id, target)))).catch(unavailable);
      // The expiry timer: overdue requests are expired by the reconciler itself, so a plain add (no-op when armed) does.
      if (expiresAt) await timers.add('expire', { requestId: id }, { jobId: jobIds.expire(id), delay: Math.max(0, expiresAt.getTime() - Date.now()) }).catch(unavailable);
      return added.flatMap((a) => (a ? ['card' as const] : []));
    },
    async changes(requestId, debts) {
      const owed = changeJobs(requestId, debts);
      const added = await Promise.all(owed.map((o) => ensureDelivery(o.job, o.jobId))).catch(unavailable);
      return owed.flatMap((o, i) => (added[i] ? [o.kind] : []));
    },
  };

  return {
    delivery,
    timers,
    jobs,
    addDelivery,
    redrive,
    async close() {
      await Promise.all([delivery.close(), timers.close()]);
    },
  };
}
