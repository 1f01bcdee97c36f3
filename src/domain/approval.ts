/**
 * The approval state machine and the vote rules every channel shares. Pure: callers load the request and its votes
 * under a row lock, ask {@link evaluateVote} what happens, and persist exactly that.
 */
import { identityKeys, normalizeEmail, personKey, sharesIdentity, type PersonIdentity } from './identity';
import type { ReasonMode, Requirement } from './policy';
import { countApprovals, isFinal, isOverdue, type RequestStatus } from './request-lifecycle';

/**
 * Where a vote came from: `api`, or the kind of the chat platform it was cast in (`slack`, `teams`, …). Open-ended on
 * purpose, so that a new platform needs no change here; the rules never depend on the channel.
 */
export type VoteChannel = string;
export type VoteDecision = 'approve' | 'deny';

/** What the vote rules need to know about a request. */
export interface ApprovalSubject {
  id: string;
  status: RequestStatus;
  requester: PersonIdentity;
  onBehalfOf?: PersonIdentity | null;
  /** Email of the human responsible for the API key that submitted the request. */
  keyOwnerEmail?: string | null;
  apiKeyId: string;
  expiresAt: Date;
  requirement: Requirement | null;
}

export interface CountedVote {
  personKey: string;
  approver: PersonIdentity;
  channel: VoteChannel;
  decision: VoteDecision;
  reason?: string | null;
  at: Date;
}

export interface VoteAttempt {
  approver: PersonIdentity;
  channel: VoteChannel;
  decision: VoteDecision;
  reason?: string | null;
  /** The API key that carried the vote, when it came through the API. */
  apiKeyId?: string;
}

export const REFUSALS = [
  'unidentified',
  'already_decided',
  'expired',
  'self_approval',
  'not_eligible',
  'already_voted',
  'reason_required',
] as const;
export type Refusal = (typeof REFUSALS)[number];

export type VoteEvaluation =
  | {
      outcome: 'refused';
      refusal: Refusal;
      message: string;
      /** Set when the attempt revealed that a pending request has passed its expiry. */
      expireNow?: boolean;
    }
  | {
      outcome: 'accepted';
      vote: CountedVote;
      status: RequestStatus;
      approvals: number;
    };

const FINAL_WORDS: Record<RequestStatus, string> = {
  pending: 'pending',
  approved: 'already approved',
  denied: 'already denied',
  expired: 'expired',
  cancelled: 'cancelled',
};

/** Why a person may not approve: names the role they share with the request, or undefined when they may. */
export function selfApprovalRole(subject: ApprovalSubject, approver: PersonIdentity, viaApiKeyId?: string): string | undefined {
  if (sharesIdentity(approver, subject.requester)) return 'the requester';
  if (sharesIdentity(approver, subject.onBehalfOf)) return 'the person the request is made on behalf of';
  const owner = normalizeEmail(subject.keyOwnerEmail);
  if (owner && identityKeys(approver).includes(owner)) return 'the owner of the API key that submitted the request';
  // A key that can both submit and decide must not be able to approve its own submissions by naming someone else.
  if (viaApiKeyId && viaApiKeyId === subject.apiKeyId) return 'the API key that submitted the request';
  return undefined;
}

export function isEligibleApprover(requirement: Requirement | null, approver: PersonIdentity): boolean {
  if (!requirement) return false;
  const members = new Set(requirement.members);
  return identityKeys(approver).some((k) => members.has(k));
}

export function reasonRequired(mode: ReasonMode | undefined, decision: VoteDecision): boolean {
  return mode === 'always' || (mode === 'on-deny' && decision === 'deny');
}

/**
 * Decides what a vote attempt does. Checks run in a fixed order so every channel gives the same answer:
 * identity, final state, expiry, self-approval, eligibility, duplicate person, reason.
 */
export function evaluateVote(
  subject: ApprovalSubject,
  votes: CountedVote[],
  attempt: VoteAttempt,
  now: Date,
): VoteEvaluation {
  const key = personKey(attempt.approver);
  if (!key) {
    return { outcome: 'refused', refusal: 'unidentified', message: 'The approver has no email, Slack id or Teams id, so they cannot be identified.' };
  }
  if (subject.status === 'expired') {
    return { outcome: 'refused', refusal: 'expired', message: 'This request has expired and can no longer be approved.' };
  }
  if (isFinal(subject.status)) {
    return { outcome: 'refused', refusal: 'already_decided', message: `This request is ${FINAL_WORDS[subject.status]}; it can no longer change.` };
  }
  if (isOverdue(subject, now)) {
    return { outcome: 'refused', refusal: 'expired', message: 'This request has expired and can no longer be approved.', expireNow: true };
  }
  const role = selfApprovalRole(subject, attempt.approver, attempt.apiKeyId);
  if (role) {
    return { outcome: 'refused', refusal: 'self_approval', message: `Self-approval is not allowed: you are ${role}.` };
  }
  if (!isEligibleApprover(subject.requirement, attempt.approver)) {
    const groups = subject.requirement?.approvers.join(', ') || 'none';
    return { outcome: 'refused', refusal: 'not_eligible', message: `You are not an approver for this request (approver groups: ${groups}).` };
  }
  const mine = votes.find((v) => v.personKey === key || sharesIdentity(v.approver, attempt.approver));
  if (mine) {
    const when = mine.channel === attempt.channel ? '' : ` (via ${mine.channel})`;
    return { outcome: 'refused', refusal: 'already_voted', message: `You already voted to ${mine.decision} this request${when}; each person counts once.` };
  }
  const reason = attempt.reason?.trim() || null;
  if (!reason && reasonRequired(subject.requirement?.reason, attempt.decision)) {
    return { outcome: 'refused', refusal: 'reason_required', message: `A reason is required to ${attempt.decision} this request.` };
  }

  const vote: CountedVote = { personKey: key, approver: attempt.approver, channel: attempt.channel, decision: attempt.decision, reason, at: now };
  const all = [...votes, vote];
  const approvals = countApprovals(all);
  const required = subject.requirement?.approvals ?? 1;
  const status: RequestStatus = attempt.decision === 'deny' ? 'denied' : approvals >= required ? 'approved' : 'pending';
  return { outcome: 'accepted', vote, status, approvals };
}

/** Cancellation is the submitter's; it only applies to a pending request. */
export function canCancel(subject: Pick<ApprovalSubject, 'status' | 'apiKeyId'>, apiKeyId: string): 'ok' | 'not_owner' | 'final' {
  if (subject.apiKeyId !== apiKeyId) return 'not_owner';
  if (isFinal(subject.status)) return 'final';
  return 'ok';
}
