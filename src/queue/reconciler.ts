/**
 * Postgres is the source of truth; Redis only schedules. The reconciler re-derives whatever Postgres says is owed —
 * cards not yet settled, expiry timers, overdue expiries, notifications, callbacks and final card renders — and
 * enqueues it with the same deterministic job ids, so running it any number of times, on any number of nodes, is
 * harmless. It runs at start-up and on a BullMQ job scheduler every RECONCILE_INTERVAL_MS.
 */
import type pino from 'pino';
import type { JobQueue } from '../ports/job-queue';
import type { DecisionService } from '../services/decision-service';
import type { Database } from '../store/database';

export interface ReconcileReport {
  expired: number;
  opened: number;
  changed: number;
}

const BATCH = 1000;

export function createReconciler(deps: {
  db: Pick<Database, '$queryRawUnsafe'>;
  jobs: Pick<JobQueue, 'requestOpened' | 'requestChanged'>;
  decisions: Pick<DecisionService, 'expireIfDue'>;
  /** How many chat platforms are configured: each owes the requester one notification row. */
  channelCount: number;
  log: pino.Logger;
}) {
  return async function reconcile(): Promise<ReconcileReport> {
    const overdue = await deps.db.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id FROM approval_request WHERE status = 'pending' AND expires_at <= now() ORDER BY expires_at LIMIT ${BATCH}`,
    );
    let expired = 0;
    for (const r of overdue) if (await deps.decisions.expireIfDue(r.id)) expired++;

    // Pending requests: cards not yet settled (delivered, skipped or failed), and their expiry timers.
    const pending = await deps.db.$queryRawUnsafe<{ id: string; expires_at: Date; targets: string[] }[]>(
      `SELECT r.id, r.expires_at,
         COALESCE(ARRAY(SELECT t FROM jsonb_array_elements_text(COALESCE(r.requirement->'channels', '[]'::jsonb)) t
           WHERE NOT EXISTS (SELECT 1 FROM delivery d WHERE d.request_id = r.id AND d.kind = 'card' AND d.target = t AND d.status <> 'pending')), '{}') AS targets
       FROM approval_request r WHERE r.status = 'pending' AND r.expires_at > now() ORDER BY r.created_at LIMIT ${BATCH * 5}`,
    );
    for (const r of pending) await deps.jobs.requestOpened({ id: r.id, targets: r.targets, expiresAt: new Date(r.expires_at) });

    // Requests decided in the last week that still owe a notification, a callback or a final card render.
    const owed = await deps.db.$queryRawUnsafe<{ id: string; version: string }[]>(
      `SELECT r.id, r.status || ':' || (SELECT count(*) FROM vote v WHERE v.request_id = r.id) AS version
       FROM approval_request r
       WHERE r.status <> 'pending' AND r.decided_at > now() - interval '7 days' AND (
         (r.callback_url IS NOT NULL AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.request_id = r.id AND d.kind = 'callback' AND d.status <> 'pending'))
         OR (r.policy_outcome = 'require' AND $1::int > 0 AND (SELECT count(*) FROM delivery d WHERE d.request_id = r.id AND d.kind = 'notify' AND d.status <> 'pending') < $1::int)
         OR EXISTS (SELECT 1 FROM delivery d WHERE d.request_id = r.id AND d.kind = 'card' AND d.status = 'delivered'
              AND d.message_ref->>'renderedVersion' IS DISTINCT FROM r.status || ':' || (SELECT count(*) FROM vote v WHERE v.request_id = r.id)))
       ORDER BY r.decided_at LIMIT ${BATCH}`,
      deps.channelCount,
    );
    for (const r of owed) await deps.jobs.requestChanged(r.id, `${r.version}`);

    const report = { expired, opened: pending.length, changed: owed.length };
    if (expired || pending.length || owed.length) deps.log.info(report, 'reconciled queues with Postgres');
    return report;
  };
}
