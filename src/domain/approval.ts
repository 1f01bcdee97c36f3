/**
 * The approval state machine and the vote rules every channel shares. Pure: callers load the request and its votes
 * under a row lock, ask {@link evaluateVote} what happens, and persist exactly that.
 */
import type { PersonIdentity } from './identity';
import type { Quorum, ReasonMode, Requirement, RequirementStage } from './policy';
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
  /** Asked with an approval: also approve the same action on this resource by this requester, for a while / n uses. */
  standing?: StandingAsk | null;
}

/** A standing approval as an approver asks for it. */
export interface StandingAsk {
  forSeconds: number;
  uses: number;
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
  'standing_not_allowed',
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
      /** The stage being asked after this vote (0-based; equals the number of stages once all approved). */
      stage: number;
      /** True when this vote completed a stage and a later one is now asked (its approvers get their cards). */
      stageAdvanced: boolean;
      /** The standing approval this vote grants, within the rule's bounds. */
      standing?: StandingAsk;
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

/**
 * The stages a requirement asks, in order. A plain requirement (no `stages`) is one stage: `approvals` distinct people
 * from any of its groups' members.
 */
export function requirementStages(requirement: Requirement): RequirementStage[] {
  if (requirement.stages?.length) return requirement.stages;
  return [{ approvers: requirement.approvers, quorum: [{ group: null, count: requirement.approvals }], members: requirement.members, groupMembers: {}, channels: requirement.channels }];
}

/** Whether `person` can fill a quorum slot of the stage. */
function fills(stage: RequirementStage, q: Quorum, person: string): boolean {
  return q.group === null ? stage.members.includes(person) : Boolean(stage.groupMembers[q.group]?.includes(person));
}

/**
 * Assigns approvers to a stage's quorum slots, each person to at most one slot (so a person in two groups counts
 * toward one of them only), maximising the slots filled, and returns what stays unfilled by group. A maximum bipartite
 * matching (Kuhn's augmenting paths): hand-written because the graph is tiny (at most a few dozen people and slots)
 * and no library here offers it.
 */
export function assignQuorum(stage: RequirementStage, people: readonly string[]): { filled: number; missing: Quorum[] } {
  const slots: Quorum[] = stage.quorum.flatMap((q) => Array.from({ length: q.count }, () => q));
  const slotOwner: (number | undefined)[] = new Array(slots.length).fill(undefined);
  const tryAssign = (p: number, seen: boolean[]): boolean => {
    for (let s = 0; s < slots.length; s++) {
      if (seen[s] || !fills(stage, slots[s], people[p])) continue;
      seen[s] = true;
      const owner = slotOwner[s];
      if (owner === undefined || tryAssign(owner, seen)) {
        slotOwner[s] = p;
        return true;
      }
    }
    return false;
  };
  let filled = 0;
  people.forEach((_, p) => {
    if (tryAssign(p, new Array(slots.length).fill(false))) filled++;
  });
  const missing: Quorum[] = [];
  stage.quorum.forEach((q) => {
    const open = slots.filter((slot, s) => slot === q && slotOwner[s] === undefined).length;
    if (open > 0) missing.push({ group: q.group, count: open });
  });
  return { filled, missing };
}

/** Where a staged approval stands. */
export interface StageProgress {
  /** The stage being asked (0-based); equals `stages.length` once every stage approved. */
  current: number;
  stages: RequirementStage[];
  /** Person ids counted toward each stage, in order. */
  counted: string[][];
  /** What the current stage still needs, by group (null: any of its groups); empty once all stages approved. */
  missing: Quorum[];
}

/**
 * Replays the approvals in the order they were cast: each counts toward the stage being asked when it was cast, and a
 * stage whose quorum is met hands over to the next. So a person counts once overall, in the stage they approved in.
 */
export function stageProgress(requirement: Requirement, votes: readonly Pick<CountedVote, 'personKey' | 'decision'>[]): StageProgress {
  const stages = requirementStages(requirement);
  const counted: string[][] = stages.map(() => []);
  let current = 0;
  for (const v of votes) {
    if (v.decision !== 'approve' || current >= stages.length) continue;
    counted[current].push(v.personKey);
    const total = stages[current].quorum.reduce((sum, q) => sum + q.count, 0);
    if (assignQuorum(stages[current], counted[current]).filled >= total) current++;
  }
  const missing = current < stages.length ? assignQuorum(stages[current], counted[current]).missing : [];
  return { current, stages, counted, missing };
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
  const requirement = subject.requirement!;
  const before = stageProgress(requirement, votes);
  const stage = before.stages[before.current];
  // Every stage already met while still pending cannot arise from the votes alone; refuse rather than guess.
  if (!stage) return { outcome: 'refused', refusal: 'not_eligible', message: 'Every approval this request needs is already recorded.' };
  const staged = before.stages.length > 1;
  if (staged && !stage.members.includes(voter.personId)) {
    return { outcome: 'refused', refusal: 'not_eligible', message: `Stage ${before.current + 1} of ${before.stages.length} is being asked now (approver groups: ${stage.approvers.join(', ')}); you are not an approver for it.` };
  }
  const mine = votes.find((v) => v.personKey === voter.personId);
  if (mine) {
    const when = mine.channel === attempt.channel ? '' : ` (via ${mine.channel})`;
    return { outcome: 'refused', refusal: 'already_voted', message: `You already voted to ${mine.decision} this request${when}; each person counts once.` };
  }
  // With per-group quorums, an approval that fills no open slot (your group is complete) would count for nothing; it
  // is refused rather than recorded, so the trail never shows an approval that did not matter.
  if (attempt.decision === 'approve' && assignQuorum(stage, [...before.counted[before.current], voter.personId]).filled === assignQuorum(stage, before.counted[before.current]).filled) {
    const needed = before.missing.map((q) => `${q.count} from ${q.group ?? stage.approvers.join(' or ')}`).join(', ');
    return { outcome: 'refused', refusal: 'not_eligible', message: `Your approval would not count: still needed ${needed}.` };
  }
  const reason = attempt.reason?.trim() || null;
  if (!reason && reasonRequired(subject.requirement?.reason, attempt.decision)) {
    return { outcome: 'refused', refusal: 'reason_required', message: `A reason is required to ${attempt.decision} this request.` };
  }

  const standingRefusal = attempt.standing ? checkStanding(requirement, attempt.decision, attempt.standing) : undefined;
  if (standingRefusal) return { outcome: 'refused', refusal: 'standing_not_allowed', message: standingRefusal };

  const vote: CountedVote = {
    personKey: voter.personId,
    approver: voter.approver,
    channel: attempt.channel,
    decision: attempt.decision,
    reason,
    at: voteTime(votes, now),
    attestedBy: voter.viaKey?.attested ? voter.viaKey.name : null,
  };
  const all = [...votes, vote];
  const approvals = countApprovals(all);
  const after = stageProgress(requirement, all);
  const complete = after.current >= after.stages.length;
  const status: RequestStatus = attempt.decision === 'deny' ? 'denied' : complete ? 'approved' : 'pending';
  return {
    outcome: 'accepted', vote, status, approvals, stage: after.current, stageAdvanced: status === 'pending' && after.current > before.current,
    ...(attempt.standing ? { standing: attempt.standing } : {}),
  };
}

/**
 * When a vote is recorded: now, but always after the votes already recorded. Stages are replayed in vote order, and
 * votes are ordered by their time; a vote whose clock read came before the previous holder of the row lock committed
 * (or a node whose clock lags) must still sort after it, or a replay could count it toward a different stage than the
 * one it was evaluated in.
 */
export function voteTime(votes: readonly Pick<CountedVote, 'at'>[], now: Date): Date {
  const last = votes.reduce((max, v) => Math.max(max, v.at.getTime()), Number.NEGATIVE_INFINITY);
  return last >= now.getTime() ? new Date(last + 1) : now;
}

/**
 * Why a standing approval may not be given with this vote, or undefined when it may. Only an approval, only on a rule
 * that allows them (never an `alwaysAsk` one), only where one approval decides (a standing approval stands in for the
 * whole decision, so it must never stand in for a quorum of several people), and within the rule's bounds.
 */
export function checkStanding(requirement: Requirement, decision: VoteDecision, ask: StandingAsk): string | undefined {
  if (decision !== 'approve') return 'A standing approval comes with an approval, not a denial.';
  if (requirement.alwaysAsk) return 'This rule always asks: every request is decided on its own, never by a standing approval.';
  const bounds = requirement.standing;
  if (!bounds) return 'This rule allows no standing approvals.';
  if (requirement.approvals !== 1 || (requirement.stages?.length ?? 0) > 0) return 'Standing approvals are only for rules that one approval decides.';
  if (ask.forSeconds > bounds.maxForSeconds) return `A standing approval under this rule lasts at most ${bounds.maxForSeconds} seconds.`;
  if (ask.uses > bounds.maxUses) return `A standing approval under this rule covers at most ${bounds.maxUses} uses.`;
  return undefined;
}

/** Cancellation is the submitter's; it only applies to a pending request. */
export function canCancel(subject: Pick<ApprovalSubject, 'status' | 'apiKeyId'>, apiKeyId: string): 'ok' | 'not_owner' | 'final' {
  if (subject.apiKeyId !== apiKeyId) return 'not_owner';
  if (isFinal(subject.status)) return 'final';
  return 'ok';
}
