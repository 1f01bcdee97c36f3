/**
 * A request's lifecycle, in one place: its statuses, which are final, the status a policy outcome gives it, the state
 * version that tells a stale card from a current one, the expiry transition, and the status a request effectively has
 * at a given time. The API, the chat cards, the delivery worker and the reconciler all ask this module, so they can
 * never disagree about where a request stands.
 */
import type { PolicyDecision } from './policy';

export const REQUEST_STATUSES = ['pending', 'approved', 'denied', 'expired', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** A request never leaves these states. */
export function isFinal(status: RequestStatus): boolean {
  return status !== 'pending';
}

/**
 * The state version: changes whenever anything a card shows can change (a vote, a transition). Delivery jobs carry it
 * in their ids, delivered cards record the version they show, and the reconciler compares the two.
 * The store mirrors this format in SQL (`STATE_VERSION_SQL` in src/store/request-store.ts); a test holds them equal.
 */
export function stateVersion(status: RequestStatus, voteCount: number): string {
  return `${status}:${voteCount}`;
}

/** Where a request starts after policy: routine requests are approved, forbidden ones denied, the rest wait. */
export function statusAfterPolicy(outcome: PolicyDecision['outcome']): 'pending' | 'approved' | 'denied' {
  return outcome === 'require' ? 'pending' : outcome === 'approve' ? 'approved' : 'denied';
}

/** The recorded reason of a decision made by policy alone, or null when people decide. */
export function policyDecisionReason(decision: Pick<PolicyDecision, 'outcome' | 'rule' | 'message'>): string | null {
  if (decision.outcome === 'deny') return decision.message ?? `Denied by policy rule ${decision.rule}`;
  if (decision.outcome === 'approve') return `Routine: approved by policy rule ${decision.rule}`;
  return null;
}

/** Distinct people who approved: a person counts once toward the quorum, whatever channels they voted in. */
export function countApprovals(votes: readonly { personKey: string; decision: 'approve' | 'deny' }[]): number {
  return new Set(votes.filter((v) => v.decision === 'approve').map((v) => v.personKey)).size;
}

/** What the lifecycle needs to know to tell whether a request is due to expire. */
export interface ExpiringRequest {
  status: RequestStatus;
  expiresAt: Date;
}

/** True when a pending request has reached its expiry time (expiry happens AT expiresAt, not after). */
export function isOverdue(request: ExpiringRequest, now: Date): boolean {
  return request.status === 'pending' && now.getTime() >= request.expiresAt.getTime();
}

/**
 * The status a request effectively has at `now`: a pending request past its expiry reads as expired even before the
 * timer or the reconciler records the transition.
 */
export function effectiveStatus(request: ExpiringRequest, now: Date): RequestStatus {
  return isOverdue(request, now) ? 'expired' : request.status;
}

/** The transition that expires a request, and the audit event that records it. */
export interface ExpiryTransition {
  status: 'expired';
  decidedBy: null;
  reason: string;
  event: { type: 'request.expired'; data: { expiresAt: string; detectedBy: ExpiryDetector } };
}

/** Who noticed the expiry: the timer job, a vote attempt, or the reconciler's sweep (which also runs the timer path). */
export type ExpiryDetector = 'timer' | 'vote';

export const EXPIRY_REASON = 'No decision before the request expired';

export function expiryTransition(request: ExpiringRequest, detectedBy: ExpiryDetector): ExpiryTransition {
  return {
    status: 'expired',
    decidedBy: null,
    reason: EXPIRY_REASON,
    event: { type: 'request.expired', data: { expiresAt: request.expiresAt.toISOString(), detectedBy } },
  };
}
