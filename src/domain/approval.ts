/**
 * The approval state machine and the vote rules every channel shares. Pure: callers load the request and its votes
 * under a row lock, ask {@link evaluateVote} what happens, and persist exactly that.
 */
import type { PersonIdentity } from './identity';
import type { ReasonMode, Requirement } from './policy';
import { countApprovals, isFinal, isOverdue, type RequestStatus } from './request-lifecycle';

/**
 * Where a vote came from: `api`, or the kind of the chat platform it was cast in (`slack`, `teams`, …). Open-ended on
 * purpose, so that a new platform needs no change here; the rules never depend on the channel.
 */
export type VoteChannel = string;
export type VoteDecision = 'approve' | 'deny';

/**
 * The people behind a request, as person ids: each party may carry several (the ids stored at intake and the ids its
 * identities resolve to now, so a link made after intake still counts).
 */
export interface RequestParties {
  requester: string[];
  onBehalfOf: string[];
  keyOwner: string[];
}

/** What the vote rules need to know about a request. */
export interface ApprovalSubject {
  id: string;
  status: RequestStatus;
  parties: RequestParties;
  /** The API key that submitted the request. */
  apiKeyId: string;
  expiresAt: Date;
  requirement: Requirement | null;
}

export interface CountedVote {
  /** The voter's person id. */
  personKey: string;
  /** What the channel presented about the voter, for the record. */
  approver: PersonIdentity;
  channel: VoteChannel;
  decision: VoteDecision;
  reason?: string | null;
  at: Date;
  /** The API key (name) that attested the vote on the person's behalf, when it came that way. */
  attestedBy?: string | null;
}

/** The person behind a vote attempt, as the directory identified them. */
export interface Voter {
  /** A directory person's id, or (when `known` is false) the implicit id of the identity presented. */
  personId: string;
  /** Whether the directory has this person. A vote from nobody the directory knows is refused. */
  known: boolean;
  /**
   * The person ids of every identity the voter presented (their platform id, the email their platform verified, what
   * an integration asserted), each as the directory maps it. Self-approval is refused when ANY of them is a party to
   * the request, so presenting a second identity can never get a person past the rule.
   */
  alsoKnownAs?: string[];
  /** What the channel presented, kept for the record and the cards. */
  approver: PersonIdentity;
  /** The API key that carried the vote, when it came through the API. */
  viaKey?: { id: string; name: string; ownerPersonId: string | null; attested: boolean };
}

export interface VoteAttempt {
  /** Null when the channel could not say who acted at all. */
  voter: Voter | null;
  /**
   * The person a `decide` key's request body named as the approver, when it named one: such a key votes only as its
   * owner, so naming anybody else is refused.
   */
  claimedPersonId?: string | null;
  channel: VoteChannel;
  decision: VoteDecision;
  reason?: string | null;
}

export const REFUSALS = [
  'unidentified',
  'unknown_approver',
  'approver_mismatch',
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

/** Why a voter may not approve this request: names the role they share with it, or undefined when they may. */
export function selfApprovalRole(subject: ApprovalSubject, voter: Voter): string | undefined {
  const { parties } = subject;
  const ids = [voter.personId, ...(voter.alsoKnownAs ?? [])];
  const is = (party: string[]) => ids.some((id) => party.includes(id));
  if (is(parties.requester)) return 'the requester';
  if (is(parties.onBehalfOf)) return 'the person the request is made on behalf of';
  if (is(parties.keyOwner)) return 'the owner of the API key that submitted the request';
  const key = voter.viaKey;
  // A key never votes on what it submitted, and no key of the submitting key's owner votes for anyone on it.
  if (key && key.id === subject.apiKeyId) return 'the API key that submitted the request';
  if (key?.ownerPersonId && parties.keyOwner.includes(key.ownerPersonId)) return 'voting with an API key of the same owner as the key that submitted the request';
  return undefined;
}

export function isEligibleApprover(requirement: Requirement | null, voter: Voter): boolean {
  return Boolean(requirement?.members.includes(voter.personId));
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
  const voter = attempt.voter;
  if (!voter) {
    return { outcome: 'refused', refusal: 'unidentified', message: 'The approver has no email, Slack id or Teams id, so they cannot be identified.' };
  }
  if (voter.viaKey && !voter.viaKey.attested && attempt.claimedPersonId && attempt.claimedPersonId !== voter.personId) {
    return {
      outcome: 'refused',
      refusal: 'approver_mismatch',
      message: `This API key votes only as its owner (${voter.personId}); naming another approver needs a key with the \`attest\` scope.`,
    };
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
  const role = selfApprovalRole(subject, voter);
  if (role) {
    return { outcome: 'refused', refusal: 'self_approval', message: `Self-approval is not allowed: you are ${role}.` };
  }
  if (!voter.known) {
    return { outcome: 'refused', refusal: 'unknown_approver', message: 'Countersign does not know who you are: your identity is not linked to any person in its directory. Ask an administrator to add it.' };
  }
  if (!isEligibleApprover(subject.requirement, voter)) {
    const groups = subject.requirement?.approvers.join(', ') || 'none';
    return { outcome: 'refused', refusal: 'not_eligible', message: `You are not an approver for this request (approver groups: ${groups}).` };
  }
  const mine = votes.find((v) => v.personKey === voter.personId);
  if (mine) {
    const when = mine.channel === attempt.channel ? '' : ` (via ${mine.channel})`;
    return { outcome: 'refused', refusal: 'already_voted', message: `You already voted to ${mine.decision} this request${when}; each person counts once.` };
  }
  const reason = attempt.reason?.trim() || null;
  if (!reason && reasonRequired(subject.requirement?.reason, attempt.decision)) {
    return { outcome: 'refused', refusal: 'reason_required', message: `A reason is required to ${attempt.decision} this request.` };
  }

  const vote: CountedVote = {
    personKey: voter.personId,
    approver: voter.approver,
    channel: attempt.channel,
    decision: attempt.decision,
    reason,
    at: now,
    attestedBy: voter.viaKey?.attested ? voter.viaKey.name : null,
  };
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
