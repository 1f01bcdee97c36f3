/**
 * Reminding approvers of a request still pending (a rule's `remind: [15m, 1h]`, counted from submission). PostgreSQL
 * says what is owed (the requirement's `remindSeconds`, the delivered cards, the reminder rows already settled), so
 * the timers (`remind.<id>.<n>`) and the sends (`remind.<id>.<target>.<n>`, one delivery row each) are re-derived
 * by the reconciler when Redis loses them, and a reminder is sent at most once per card.
 */
import { reminderKey } from '../deliveries/delivery-service';
import type { JobQueue } from '../ports/job-queue';
import type { RequestStore } from '../store/request-store';

export interface ReminderService {
  /** A request's reminder timer fired: sends every reminder of it that is due and not yet sent. */
  due(requestId: string): Promise<number>;
  /** Re-derives every pending request's reminders (at most `limit` requests): timers for later ones, sends for due ones. */
  reconcile(limit: number): Promise<number>;
}

export function createReminderService(deps: {
  requests: Pick<RequestStore, 'remindersOwed'>;
  jobs: Pick<JobQueue, 'reminderDue' | 'remindApprovers'>;
  clock?: () => Date;
}): ReminderService {
  const clock = deps.clock ?? (() => new Date());

  /** Enqueues what the rows owe; returns how many reminders were enqueued to be sent now. */
  async function schedule(rows: Awaited<ReturnType<RequestStore['remindersOwed']>>): Promise<number> {
    const now = clock().getTime();
    let sent = 0;
    for (const r of rows) {
      for (const [index, seconds] of r.remindSeconds.entries()) {
        const at = r.createdAt.getTime() + seconds * 1000;
        if (at > now) {
          await deps.jobs.reminderDue(r.id, index, new Date(at));
          continue;
        }
        for (const target of r.cards) {
          if (r.settled.includes(reminderKey(target, index))) continue;
          await deps.jobs.remindApprovers(r.id, target, index);
          sent++;
        }
      }
    }
    return sent;
  }

  return {
    async due(requestId) {
      return schedule(await deps.requests.remindersOwed({ requestId, limit: 1 }));
    },
    async reconcile(limit) {
      return schedule(await deps.requests.remindersOwed({ limit }));
    },
  };
}
