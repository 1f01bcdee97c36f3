/**
 * Postgres is the source of truth; Redis only schedules. The reconciler re-derives whatever Postgres says is owed —
 * cards not yet settled, expiry timers, overdue expiries, expiry warnings, reminders, escalations, notifications, callbacks and final card renders — and
 * enqueues it with the same deterministic job ids, so running it any number of times, on any number of nodes, is
 * harmless. It runs at start-up and on a BullMQ job scheduler every RECONCILE_INTERVAL_MS.
 */
import type pino from 'pino';
import { stateVersion } from '../domain/request-lifecycle';
import type { JobQueue } from '../ports/job-queue';
import type { PendingCounter } from '../ports/limits';
import type { DecisionService } from '../services/decision-service';
import type { ReminderService } from '../services/reminder-service';
import type { BudgetStore } from '../store/budget-store';
import type { RequestStore } from '../store/request-store';

export interface ReconcileReport {
  expired: number;
  opened: number;
  changed: number;
  /** Budget counters of closed windows deleted. */
  pruned: number;
}

/** Rows examined per pass for each kind of debt; a backlog larger than this is worked off over several passes. */
const BATCH = 1000;

export function createReconciler(deps: {
  requests: Pick<RequestStore, 'overdueIds' | 'awaitingCards' | 'decidedOwingDeliveries' | 'pendingCountsByKey' | 'owedExpiryWarnings' | 'escalationsOwed'>;
  pending: Pick<PendingCounter, 'resync'>;
  jobs: Pick<JobQueue, 'requestOpened' | 'requestChanged' | 'expiryWarningDue' | 'escalationDue'>;
  decisions: Pick<DecisionService, 'expireIfDue' | 'escalate'>;
  reminders: Pick<ReminderService, 'reconcile'>;
  /** Budget counters: those of windows already closed are of no further use. */
  budgets: Pick<BudgetStore, 'prune'>;
  clock?: () => Date;
  /** How many chat platforms are configured: each owes the requester one notification row. */
  channelCount: number;
  log: pino.Logger;
}) {
  return async function reconcile(): Promise<ReconcileReport> {
    let expired = 0;
    for (const id of await deps.requests.overdueIds(BATCH)) if (await deps.decisions.expireIfDue(id)) expired++;

    // Pending requests: cards not yet settled (delivered, skipped or failed), and their expiry timers.
    const pending = await deps.requests.awaitingCards(BATCH * 5);
    for (const r of pending) await deps.jobs.requestOpened({ id: r.id, targets: r.targets, expiresAt: r.expiresAt });

    // Expiry warnings owed (asked by the rule, not yet given): their timers, due now when already past.
    const warnings = await deps.requests.owedExpiryWarnings(BATCH);
    for (const w of warnings) await deps.jobs.expiryWarningDue(w.id, w.warnAt);

    // Escalations owed: due ones now, later ones as timers.
    const now = (deps.clock ?? (() => new Date()))().getTime();
    for (const e of await deps.requests.escalationsOwed(BATCH)) {
      if (e.dueAt.getTime() <= now) await deps.decisions.escalate(e.id);
      else await deps.jobs.escalationDue(e.id, e.dueAt);
    }

    // Reminders owed: timers for those not yet due, the reminders themselves for those due and not sent.
    await deps.reminders.reconcile(BATCH);

    // Requests decided in the last week that still owe a notification, a callback or a final card render.
    const owed = await deps.requests.decidedOwingDeliveries(deps.channelCount, BATCH);
    for (const r of owed) await deps.jobs.requestChanged(r.id, stateVersion(r.status, r.voteCount));

    // The per-key pending counters follow PostgreSQL (a node that died between intake and release leaves them high).
    await deps.pending.resync(await deps.requests.pendingCountsByKey());

    const pruned = await deps.budgets.prune((deps.clock ?? (() => new Date()))());

    const report = { expired, opened: pending.length, changed: owed.length, pruned };
    if (expired || pending.length || owed.length || pruned) deps.log.info(report, 'reconciled queues with Postgres');
    return report;
  };
}
