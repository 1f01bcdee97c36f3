/**
 * Postgres is the source of truth; Redis only schedules. The reconciler re-derives whatever Postgres says is owed —
 * cards not yet settled, card updates, notifications, callbacks, expiry timers and overdue expiries, expiry warnings,
 * reminders and escalations — and makes sure
 * each debt has a live job under its deterministic id (src/queue/queues.ts, `redrive`), so running it any number of
 * times, on any number of nodes, is harmless. It runs at start-up and on a BullMQ job scheduler every
 * RECONCILE_INTERVAL_MS.
 *
 * This is what makes deliveries converge: a job may fail for good (a database outage longer than its attempts,
 * throttling beyond its retry budget) or vanish (Redis flushed, a node killed), but the debt stays in PostgreSQL until
 * it is paid or fails permanently, and every pass re-drives it. Retries of a transient fault are thus capped at one
 * fresh job per pass, each with the job's own exponential backoff.
 */
import type pino from 'pino';
import type { DeliveryService } from '../deliveries/delivery-service';
import type { DeliveryRedrive, JobQueue, RedriveKind } from '../ports/job-queue';
import type { PendingCounter } from '../ports/limits';
import type { DecisionService } from '../services/decision-service';
import type { ReminderService } from '../services/reminder-service';
import type { BudgetStore } from '../store/budget-store';
import type { RequestStore } from '../store/request-store';

export interface ReconcileReport {
  expired: number;
  /** Pending requests with cards not yet settled. */
  opened: number;
  /** Requests owing updates, notifications or callbacks. */
  changed: number;
  /** Debts that had no live job and were enqueued again. */
  redriven: number;
  /** Budget counters of closed windows deleted. */
  pruned: number;
}

/** Rows examined per pass for each kind of debt; a backlog larger than this is worked off over several passes. */
const BATCH = 1000;

export function createReconciler(deps: {
  requests: Pick<RequestStore, 'overdueIds' | 'awaitingCards' | 'owingChanges' | 'pendingCountsByKey' | 'owedExpiryWarnings' | 'escalationsOwed'>;
  pending: Pick<PendingCounter, 'resync'>;
  redrive: DeliveryRedrive;
  /** Timers of the policy's expiry warnings and escalations (plain adds under deterministic ids). */
  jobs: Pick<JobQueue, 'expiryWarningDue' | 'escalationDue'>;
  deliveries: Pick<DeliveryService, 'unpaid'>;
  decisions: Pick<DecisionService, 'expireIfDue' | 'escalate'>;
  reminders: Pick<ReminderService, 'reconcile'>;
  /** Budget counters: those of windows already closed are of no further use. */
  budgets: Pick<BudgetStore, 'prune'>;
  clock?: () => Date;
  /** How many chat platforms are configured: each owes the requester one notification row. */
  channelCount: number;
  /** Called once per debt enqueued again (the metric `countersign_reconciler_redrives_total`). */
  onRedrive?: (kind: RedriveKind) => void;
  log: pino.Logger;
}) {
  return async function reconcile(): Promise<ReconcileReport> {
    let expired = 0;
    for (const id of await deps.requests.overdueIds(BATCH)) if (await deps.decisions.expireIfDue(id)) expired++;

    let redriven = 0;
    const count = (kinds: RedriveKind[]) => {
      for (const kind of kinds) deps.onRedrive?.(kind);
      redriven += kinds.length;
    };

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

    // Cards not yet settled (delivered, skipped or failed for good): those of pending requests, with their expiry
    // timers, and those of decided requests an attempt began on (the card may be out there, showing buttons).
    const pending = await deps.requests.awaitingCards(BATCH * 5);
    for (const r of pending) count(await deps.redrive.cards({ id: r.id, targets: r.targets, expiresAt: r.expiresAt }));

    // Requests owing a card update, a notification or a callback: exactly the unpaid part, so a paid debt is not redone.
    const owed = await deps.requests.owingChanges(deps.channelCount, BATCH);
    for (const r of owed) count(await deps.redrive.changes(r.id, await deps.deliveries.unpaid(r.id)));

    // The per-key pending counters follow PostgreSQL (a node that died between intake and release leaves them high).
    await deps.pending.resync(await deps.requests.pendingCountsByKey());

    const pruned = await deps.budgets.prune((deps.clock ?? (() => new Date()))());

    const report = { expired, opened: pending.length, changed: owed.length, redriven, pruned };
    if (redriven) deps.log.warn(report, 'reconciler re-drove deliveries whose jobs had failed or were lost');
    else if (expired || pending.length || owed.length || pruned) deps.log.info(report, 'reconciled queues with Postgres');
    return report;
  };
}
