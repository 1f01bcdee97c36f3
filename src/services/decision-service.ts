/**
 * Votes, cancellation, expiry and outcome reports: every transition of a request goes through here, whichever
 * channel it came from. Each runs in one transaction that locks the request row, asks the pure domain what happens,
 * and writes the result with its audit events; notifications to cards, long-pollers and callbacks happen after commit.
 */
import { randomUUID } from 'node:crypto';
import type pino from 'pino';
import { AppError } from '../domain/app-error';
import {
  canCancel,
  evaluateVote,
  isFinal,
  type ApprovalSubject,
  type CountedVote,
  type Refusal,
  type RequestStatus,
  type VoteAttempt,
} from '../domain/approval';
import { displayName, type PersonIdentity } from '../domain/identity';
import type { Requirement } from '../domain/policy';
import type { JobQueue, RequestEvents } from '../ports/job-queue';
import { withTransaction, type Sql, type SqlPool } from '../store/database';
import { auditInsertSql, personActor, SYSTEM_ACTOR, toAuditRow, type AuditActor, type AuditEventInput } from './audit-event';

export type VoteResult =
  | { outcome: 'accepted'; requestId: string; status: RequestStatus; approvals: number; approvalsRequired: number }
  | { outcome: 'refused'; requestId: string; status: RequestStatus; refusal: Refusal; message: string };

const REFUSAL_STATUS: Record<Refusal, number> = {
  unidentified: 400,
  reason_required: 422,
  self_approval: 403,
  not_eligible: 403,
  already_decided: 409,
  already_voted: 409,
  expired: 409,
};

/** The HTTP status of a refused vote; chat channels show the message instead. */
export function refusalStatus(refusal: Refusal): number {
  return REFUSAL_STATUS[refusal];
}

export interface DecisionService {
  vote(requestId: string, attempt: VoteAttempt, log?: Pick<pino.BaseLogger, 'warn'>): Promise<VoteResult>;
  cancel(requestId: string, apiKeyId: string, actor: AuditActor, reason?: string): Promise<{ status: RequestStatus }>;
  /** Expires the request if it is pending and due; returns whether it did. Safe to call any number of times. */
  expireIfDue(requestId: string): Promise<boolean>;
  reportOutcome(requestId: string, apiKeyId: string, actor: AuditActor, report: { status: string; detail?: string }): Promise<void>;
}

interface LockedRow {
  id: string;
  status: RequestStatus;
  requester: PersonIdentity;
  on_behalf_of: PersonIdentity | null;
  key_owner_email: string | null;
  api_key_id: string;
  expires_at: Date;
  requirement: Requirement | null;
  approvals_required: number;
  outcome_report: unknown;
  policy_outcome: string;
  votes: { person_key: string; approver: PersonIdentity; channel: CountedVote['channel']; decision: CountedVote['decision']; reason: string | null; created_at: string }[];
}


// Two statements on purpose: under READ COMMITTED a sub-select in the locking statement would read the votes as of
// the statement's snapshot, taken BEFORE it waited for the lock, and miss the vote that the previous holder committed.
const LOCK_SQL = `SELECT id, status, requester, on_behalf_of, key_owner_email, api_key_id, expires_at, requirement,
    approvals_required, outcome_report, policy_outcome
  FROM approval_request WHERE id = $1::uuid FOR UPDATE`;
const VOTES_SQL = `SELECT person_key, approver, channel, decision, reason, created_at FROM vote WHERE request_id = $1::uuid ORDER BY created_at`;

export function createDecisionService(deps: {
  sql: SqlPool;
  jobs: Pick<JobQueue, 'requestChanged'>;
  events: Pick<RequestEvents, 'publishChanged'>;
  clock?: () => Date;
  onVote?: (channel: string, result: string) => void;
  onDecision?: (status: string) => void;
  log?: pino.Logger;
}): DecisionService {
  const clock = deps.clock ?? (() => new Date());

  async function locked<T>(requestId: string, fn: (tx: Sql, row: LockedRow) => Promise<T>): Promise<T> {
    return withTransaction(deps.sql, async (tx) => {
      const { rows } = await tx.query<Omit<LockedRow, 'votes'>>({ name: 'cs_lock_request', text: LOCK_SQL, values: [requestId] });
      if (!rows[0]) throw new AppError('not_found', 404, `No request with id ${requestId}.`, { field: 'id' });
      const votes = await tx.query<LockedRow['votes'][number]>({ name: 'cs_request_votes', text: VOTES_SQL, values: [requestId] });
      return fn(tx, { ...rows[0], votes: votes.rows });
    });
  }

  function subjectOf(row: LockedRow): ApprovalSubject {
    return {
      id: row.id,
      status: row.status,
      requester: row.requester,
      onBehalfOf: row.on_behalf_of,
      keyOwnerEmail: row.key_owner_email,
      apiKeyId: row.api_key_id,
      expiresAt: new Date(row.expires_at),
      requirement: row.requirement,
    };
  }

  function votesOf(row: LockedRow): CountedVote[] {
    return row.votes.map((v) => ({ personKey: v.person_key, approver: v.approver, channel: v.channel, decision: v.decision, reason: v.reason, at: new Date(v.created_at) }));
  }

  async function appendEvents(tx: Sql, events: AuditEventInput[]): Promise<void> {
    await tx.query({ name: 'cs_audit_append', text: auditInsertSql('$1'), values: [JSON.stringify(events.map(toAuditRow))] });
  }

  /** Guarded: only a pending request moves, so a lost race changes nothing. */
  async function transition(tx: Sql, id: string, status: RequestStatus, at: Date, by: string | null, reason: string | null): Promise<boolean> {
    const res = await tx.query({
      name: 'cs_transition',
      text: `UPDATE approval_request SET status = $2::"RequestStatus", decided_at = $3::timestamptz, decided_by = $4, decision_reason = $5
       WHERE id = $1::uuid AND status = 'pending'`,
      values: [id, status, at, by, reason],
    });
    return res.rowCount === 1;
  }

  async function afterChange(requestId: string, status: RequestStatus, version: string, log?: Pick<pino.BaseLogger, 'warn'>): Promise<void> {
    if (isFinal(status)) deps.onDecision?.(status);
    await Promise.all([
      deps.jobs.requestChanged(requestId, version).catch((err) => (log ?? deps.log)?.warn({ err, requestId }, 'could not enqueue card updates; the reconciler will')),
      deps.events.publishChanged(requestId, status).catch((err) => (log ?? deps.log)?.warn({ err, requestId }, 'could not publish change')),
    ]);
  }

  return {
    async vote(requestId, attempt, log) {
      const now = clock();
      const result = await locked(requestId, async (tx, row): Promise<VoteResult & { changed?: string }> => {
        const votes = votesOf(row);
        const evaluation = evaluateVote(subjectOf(row), votes, attempt, now);
        const actor = personActor(attempt.approver);
        if (evaluation.outcome === 'refused') {
          const events: AuditEventInput[] = [{
            type: 'vote.refused', requestId, actor, channel: attempt.channel, at: now,
            data: { refusal: evaluation.refusal, message: evaluation.message, attempted: attempt.decision, reason: attempt.reason ?? null, approver: attempt.approver, status: row.status },
          }];
          let status = row.status;
          let changed: string | undefined;
          if (evaluation.expireNow && (await transition(tx, requestId, 'expired', now, null, 'No decision before the request expired'))) {
            events.push({ type: 'request.expired', requestId, actor: SYSTEM_ACTOR, channel: 'system', at: now, data: { expiresAt: new Date(row.expires_at).toISOString(), detectedBy: 'vote' } });
            status = 'expired';
            changed = `expired:${votes.length}`;
          }
          await appendEvents(tx, events);
          return { outcome: 'refused', requestId, status, refusal: evaluation.refusal, message: evaluation.message, changed };
        }

        const v = evaluation.vote;
        const events: AuditEventInput[] = [{
          type: 'vote.cast', requestId, actor, channel: v.channel, at: now,
          data: { decision: v.decision, reason: v.reason ?? null, approver: v.approver, approvals: evaluation.approvals, approvalsRequired: row.approvals_required },
        }];
        // The unique (request_id, person_key) constraint backs up the domain's duplicate check.
        await tx.query({
          name: 'cs_vote_insert',
          text: `INSERT INTO vote (id, request_id, person_key, approver, channel, decision, reason, created_at)
           VALUES ($1::uuid, $2::uuid, $3, $4::jsonb, $5, $6::"VoteDecision", $7, $8::timestamptz)`,
          values: [randomUUID(), requestId, v.personKey, JSON.stringify(v.approver), v.channel, v.decision, v.reason ?? null, now],
        });
        if (evaluation.status !== 'pending') {
          const by = evaluation.status === 'denied' ? displayName(v.approver) : [...votes, v].filter((x) => x.decision === 'approve').map((x) => displayName(x.approver)).join(', ');
          await transition(tx, requestId, evaluation.status, now, by, v.reason ?? null);
          events.push({ type: 'request.decided', requestId, actor, channel: v.channel, at: now, data: { status: evaluation.status, by, reason: v.reason ?? null, approvals: evaluation.approvals } });
        }
        await appendEvents(tx, events);
        return {
          outcome: 'accepted', requestId, status: evaluation.status, approvals: evaluation.approvals, approvalsRequired: row.approvals_required,
          changed: `${evaluation.status}:${votes.length + 1}`,
        };
      });

      deps.onVote?.(attempt.channel, result.outcome === 'accepted' ? attempt.decision : result.refusal);
      const { changed, ...answer } = result;
      if (changed) await afterChange(requestId, answer.status, changed, log);
      return answer as VoteResult;
    },

    async cancel(requestId, apiKeyId, actor, reason) {
      const now = clock();
      const res = await locked(requestId, async (tx, row) => {
        const verdict = canCancel({ status: row.status, apiKeyId: row.api_key_id }, apiKeyId);
        if (verdict === 'not_owner') throw new AppError('forbidden', 403, 'Only the API key that submitted a request can cancel it.');
        if (verdict === 'final') throw new AppError('already_decided', 409, `This request is already ${row.status}; it can no longer be cancelled.`, { status: row.status });
        await transition(tx, requestId, 'cancelled', now, actor.key, reason ?? null);
        await appendEvents(tx, [{ type: 'request.cancelled', requestId, actor, channel: 'api', at: now, data: { reason: reason ?? null } }]);
        return { status: 'cancelled' as RequestStatus, version: `cancelled:${row.votes.length}` };
      });
      await afterChange(requestId, res.status, res.version);
      return { status: res.status };
    },

    async expireIfDue(requestId) {
      const now = clock();
      const res = await locked(requestId, async (tx, row) => {
        if (row.status !== 'pending' || new Date(row.expires_at).getTime() > now.getTime()) return null;
        await transition(tx, requestId, 'expired', now, null, 'No decision before the request expired');
        await appendEvents(tx, [{ type: 'request.expired', requestId, actor: SYSTEM_ACTOR, channel: 'system', at: now, data: { expiresAt: new Date(row.expires_at).toISOString(), detectedBy: 'timer' } }]);
        return `expired:${row.votes.length}`;
      });
      if (res) await afterChange(requestId, 'expired', res);
      return Boolean(res);
    },

    async reportOutcome(requestId, apiKeyId, actor, report) {
      const now = clock();
      await locked(requestId, async (tx, row) => {
        if (row.api_key_id !== apiKeyId) throw new AppError('forbidden', 403, 'Only the API key that submitted a request can report its outcome.');
        if (row.status !== 'approved') throw new AppError('not_approved', 409, `Outcomes are reported for approved requests; this one is ${row.status}.`, { status: row.status });
        if (row.outcome_report) throw new AppError('outcome_already_reported', 409, 'An outcome was already reported for this request.');
        await tx.query('UPDATE approval_request SET outcome_report = $2::jsonb WHERE id = $1::uuid AND outcome_report IS NULL', [requestId, JSON.stringify({ ...report, reportedAt: now.toISOString() })]);
        await appendEvents(tx, [{ type: 'outcome.reported', requestId, actor, channel: 'api', at: now, data: report }]);
      });
    },
  };
}
