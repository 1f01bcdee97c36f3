/**
 * Votes, cancellation, expiry and outcome reports: every transition of a request goes through here, whichever
 * channel it came from. Each runs in one transaction that locks the request row (the request store's `change`), asks
 * the pure domain what happens, and writes the result with its audit events; notifications to cards, long-pollers and
 * callbacks happen after commit.
 */
import { randomUUID } from 'node:crypto';
import type pino from 'pino';
import { AppError } from '../domain/app-error';
import { canCancel, evaluateVote, requirementStages, type ApprovalSubject, type Refusal, type RequestParties, type VoteAttempt, type VoteChannel, type VoteDecision, type Voter, type StandingAsk } from '../domain/approval';
import { personActor, SYSTEM_ACTOR, type AuditActor, type AuditEventInput } from '../domain/audit-event';
import { escalateRequirement } from '../domain/escalation';
import { displayName, identitiesOf, type PersonIdentity } from '../domain/identity';
import type { Directory, PresentedIdentity } from '../domain/people';
import { expiryTransition, isFinal, isOverdue, stateVersion, type ExpiryDetector, type RequestStatus } from '../domain/request-lifecycle';
import type { JobQueue, RequestEvents } from '../ports/job-queue';
import type { PendingCounter } from '../ports/limits';
import type { LockedRequest, RequestStore, RequestTransaction } from '../store/request-store';
import type { DirectoryService } from './directory-service';

export type VoteResult =
  | {
      outcome: 'accepted'; requestId: string; status: RequestStatus; approvals: number; approvalsRequired: number;
      /** The standing approval this vote granted, when it asked for one. */
      standingApproval?: { id: string; expiresAt: string; uses: number };
    }
  | { outcome: 'refused'; requestId: string; status: RequestStatus; refusal: Refusal; message: string };

/** A vote as a channel hands it over: who presented themselves, and what they decided. */
export interface VoteInput {
  /** Who acted, as the channel authenticated them (a chat user, an attesting integration's claim). */
  presented: PresentedIdentity;
  /** What is recorded about the voter on the vote, the card and the trail. */
  approver: PersonIdentity;
  channel: VoteChannel;
  decision: VoteDecision;
  reason?: string | null;
  /**
   * The directory person the channel itself authenticated (the web console's session, opened through the IdP or a
   * one-time link): the directory is not asked who `presented` is.
   */
  person?: string;
  /** The API key that carried the vote: a `decide` key votes as its owner, an `attest` key for the person it names. */
  viaKey?: { id: string; name: string; owner: string | null; attest: boolean };
  /** Also approve the same action on this resource by this requester, for a while / n uses (within the rule's bounds). */
  standing?: StandingAsk | null;
}

export interface DecisionService {
  vote(requestId: string, input: VoteInput, log?: Pick<pino.BaseLogger, 'warn'>): Promise<VoteResult>;
  cancel(requestId: string, apiKeyId: string, actor: AuditActor, reason?: string): Promise<{ status: RequestStatus }>;
  /** Expires the request if it is pending and due; returns whether it did. Safe to call any number of times. */
  expireIfDue(requestId: string): Promise<boolean>;
  /**
   * Escalates a pending request whose rule escalates and has not yet (its timer fires when due): adds the escalation's
   * approvers, records `request.escalated`, updates the cards and posts to the escalation's channels. Idempotent.
   */
  escalate(requestId: string): Promise<boolean>;
  reportOutcome(requestId: string, apiKeyId: string, actor: AuditActor, report: { status: string; detail?: string }): Promise<void>;
  /**
   * Who an approver acting outside a vote is (revoking a standing approval), by the same rules as a vote: a `decide` key
   * acts as its owner only, an `attest` key for the person it names, a chat user as the directory identifies them.
   * @throws AppError `unidentified` or `approver_mismatch` when nobody (or somebody else than allowed) is named.
   */
  identifyApprover(input: Pick<VoteInput, 'presented' | 'approver' | 'channel' | 'viaKey' | 'person'>): Promise<Voter>;
}

/** What a locked change produced: the answer, and the new state version when anything a card shows changed. */
interface Applied<T> {
  answer: T;
  /** The new state, and when the request was submitted (time to decision). */
  changed?: { status: RequestStatus; version: string; submittedAt: Date };
  /** Cards owed to a stage that is now asked: its channels, and the request's expiry (for the timer job). */
  ask?: { targets: string[]; expiresAt: Date };
}

/**
 * The people behind a request: the ids stored at intake, and what the request's identities resolve to now (a Slack id
 * linked to the on-behalf-of person since intake still makes them that person).
 */
export function partiesOf(request: LockedRequest, directory: Directory, keyOwnerNow: string | null): RequestParties {
  const ids = (stored: string | null, person: PersonIdentity | null) =>
    [...new Set([stored, ...identitiesOf(person).map((i) => directory.personIdOf(i))].filter((x): x is string => Boolean(x)))];
  return {
    requester: ids(request.requesterPerson, request.requester),
    onBehalfOf: ids(request.onBehalfOfPerson, request.onBehalfOf),
    keyOwner: [...new Set([request.keyOwnerPerson, keyOwnerNow].filter((x): x is string => Boolean(x)))],
  };
}

function subjectOf(request: LockedRequest, parties: RequestParties): ApprovalSubject {
  return { id: request.id, status: request.status, parties, apiKeyId: request.apiKeyId, expiresAt: request.expiresAt, requirement: request.requirement };
}

/** Expires the locked request (guarded) and returns the audit event to record, or undefined if it did not move. */
async function expire(tx: RequestTransaction, now: Date, detectedBy: ExpiryDetector): Promise<AuditEventInput | undefined> {
  const t = expiryTransition(tx.request, detectedBy);
  if (!(await tx.transition(t.status, now, t.decidedBy, t.reason))) return undefined;
  return { ...t.event, requestId: tx.request.id, actor: SYSTEM_ACTOR, channel: 'system', at: now };
}

/** Applies one vote attempt to the locked request: records the refusal or the vote, and the transition it causes. */
async function applyVote(tx: RequestTransaction, attempt: VoteAttempt, approver: PersonIdentity, parties: RequestParties, now: Date): Promise<Applied<VoteResult>> {
  const { request } = tx;
  const requestId = request.id;
  const evaluation = evaluateVote(subjectOf(request, parties), request.votes, attempt, now);
  const voter = attempt.voter;
  const actor: AuditActor = { ...personActor(approver, voter?.personId), ...(voter?.viaKey ? { via: `key:${voter.viaKey.name}` } : {}) };

  if (evaluation.outcome === 'refused') {
    const events: AuditEventInput[] = [{
      type: 'vote.refused', requestId, actor, channel: attempt.channel, at: now,
      data: {
        refusal: evaluation.refusal, message: evaluation.message, attempted: attempt.decision, reason: attempt.reason ?? null, approver,
        person: voter?.personId ?? null, knownPerson: voter?.known ?? false, viaKey: voter?.viaKey?.name ?? null, status: request.status,
      },
    }];
    let status = request.status;
    let changed: Applied<VoteResult>['changed'];
    const expired = evaluation.expireNow ? await expire(tx, now, 'vote') : undefined;
    if (expired) {
      events.push(expired);
      status = 'expired';
      changed = { status, version: stateVersion(status, request.votes.length), submittedAt: request.createdAt };
    }
    await tx.appendAudit(events);
    return { answer: { outcome: 'refused', requestId, status, refusal: evaluation.refusal, message: evaluation.message }, changed };
  }

  const v = evaluation.vote;
  const events: AuditEventInput[] = [{
    type: 'vote.cast', requestId, actor, channel: v.channel, at: now,
    data: {
      decision: v.decision, reason: v.reason ?? null, approver: v.approver, person: v.personKey, attestedBy: v.attestedBy ?? null,
      approvals: evaluation.approvals, approvalsRequired: request.approvalsRequired,
    },
  }];
  await tx.insertVote(v);
  let standingApproval: { id: string; expiresAt: string; uses: number } | undefined;
  if (evaluation.standing && voter) {
    // Created with the vote that approves the request (checkStanding allows them only where one approval decides).
    const standing = { id: randomUUID(), expiresAt: new Date(now.getTime() + evaluation.standing.forSeconds * 1000), uses: evaluation.standing.uses };
    await tx.createStandingApproval({
      id: standing.id, requestId, rule: request.policyRule, action: request.action, resource: request.resource, environment: request.environment,
      requesterId: request.requesterId, requesterType: request.requesterType, grantedBy: voter.personId, grantedByLabel: displayName(v.approver),
      approvers: request.requirement?.members ?? [], maxUses: standing.uses, createdAt: now, expiresAt: standing.expiresAt,
    });
    events.push({
      type: 'standing_approval.granted', requestId, actor, channel: v.channel, at: now,
      data: {
        standingApprovalId: standing.id, grantedBy: voter.personId, rule: request.policyRule, action: request.action, resource: request.resource,
        environment: request.environment, requester: { id: request.requesterId, type: request.requesterType }, uses: standing.uses,
        forSeconds: evaluation.standing.forSeconds, expiresAt: standing.expiresAt.toISOString(),
      },
    });
    standingApproval = { id: standing.id, expiresAt: standing.expiresAt.toISOString(), uses: standing.uses };
  }
  let ask: Applied<VoteResult>['ask'];
  if (evaluation.stageAdvanced) {
    const stage = requirementStages(request.requirement!)[evaluation.stage];
    await tx.setStage(evaluation.stage);
    events.push({
      type: 'request.stage_advanced', requestId, actor, channel: v.channel, at: now,
      data: { stage: evaluation.stage + 1, of: requirementStages(request.requirement!).length, name: stage.name ?? null, approvers: stage.approvers, channels: stage.channels },
    });
    ask = { targets: stage.channels, expiresAt: request.expiresAt };
  }
  if (evaluation.status !== 'pending') {
    const by = evaluation.status === 'denied'
      ? displayName(v.approver)
      : [...request.votes, v].filter((x) => x.decision === 'approve').map((x) => displayName(x.approver)).join(', ');
    await tx.transition(evaluation.status, now, by, v.reason ?? null);
    events.push({ type: 'request.decided', requestId, actor, channel: v.channel, at: now, data: { status: evaluation.status, by, reason: v.reason ?? null, approvals: evaluation.approvals } });
  }
  await tx.appendAudit(events);
  return {
    answer: { outcome: 'accepted', requestId, status: evaluation.status, approvals: evaluation.approvals, approvalsRequired: request.approvalsRequired, ...(standingApproval ? { standingApproval } : {}) },
    changed: { status: evaluation.status, version: stateVersion(evaluation.status, request.votes.length + 1), submittedAt: request.createdAt },
    ask,
  };
}

async function applyCancel(tx: RequestTransaction, apiKeyId: string, actor: AuditActor, reason: string | undefined, now: Date): Promise<Applied<{ status: RequestStatus }>> {
  const { request } = tx;
  const verdict = canCancel(request, apiKeyId);
  if (verdict === 'not_owner') throw new AppError('forbidden', 'Only the API key that submitted a request can cancel it.');
  if (verdict === 'final') throw new AppError('already_decided', `This request is already ${request.status}; it can no longer be cancelled.`, { status: request.status });
  await tx.transition('cancelled', now, actor.key, reason ?? null);
  await tx.appendAudit([{ type: 'request.cancelled', requestId: request.id, actor, channel: 'api', at: now, data: { reason: reason ?? null } }]);
  return { answer: { status: 'cancelled' }, changed: { status: 'cancelled', version: stateVersion('cancelled', request.votes.length), submittedAt: request.createdAt } };
}

async function applyExpiryIfDue(tx: RequestTransaction, now: Date): Promise<Applied<boolean>> {
  if (!isOverdue(tx.request, now)) return { answer: false };
  const event = await expire(tx, now, 'timer');
  if (!event) return { answer: false };
  await tx.appendAudit([event]);
  return { answer: true, changed: { status: 'expired', version: stateVersion('expired', tx.request.votes.length), submittedAt: tx.request.createdAt } };
}

async function applyEscalation(tx: RequestTransaction, now: Date): Promise<Applied<boolean>> {
  const { request } = tx;
  if (request.status !== 'pending' || isOverdue(request, now)) return { answer: false };
  const escalated = escalateRequirement(request.requirement, now);
  if (!escalated?.escalate || !(await tx.replaceRequirement(escalated))) return { answer: false };
  const e = escalated.escalate;
  await tx.appendAudit([{
    type: 'request.escalated', requestId: request.id, actor: SYSTEM_ACTOR, channel: 'system', at: now,
    data: { afterSeconds: e.afterSeconds, to: e.to, approvers: escalated.approvers, channels: e.channels, members: e.members.length },
  }]);
  return {
    answer: true,
    changed: { status: 'pending', version: `${stateVersion('pending', request.votes.length)}:escalated`, submittedAt: request.createdAt },
    ask: { targets: e.channels, expiresAt: request.expiresAt },
  };
}

async function applyOutcomeReport(tx: RequestTransaction, apiKeyId: string, actor: AuditActor, report: { status: string; detail?: string }, now: Date): Promise<Applied<void>> {
  const { request } = tx;
  if (request.apiKeyId !== apiKeyId) throw new AppError('forbidden', 'Only the API key that submitted a request can report its outcome.');
  if (request.status !== 'approved') throw new AppError('not_approved', `Outcomes are reported for approved requests; this one is ${request.status}.`, { status: request.status });
  if (request.outcomeReport) throw new AppError('outcome_already_reported', 'An outcome was already reported for this request.');
  await tx.setOutcomeReport({ ...report, reportedAt: now.toISOString() });
  await tx.appendAudit([{ type: 'outcome.reported', requestId: request.id, actor, channel: 'api', at: now, data: report }]);
  return { answer: undefined };
}

export function createDecisionService(deps: {
  requests: Pick<RequestStore, 'change'>;
  directory: Pick<DirectoryService, 'current' | 'identify' | 'personIdOf'>;
  /** `requestOpened` posts the cards of a stage that is now asked. */
  jobs: Pick<JobQueue, 'requestChanged' | 'requestOpened'>;
  events: Pick<RequestEvents, 'publishChanged'>;
  /** Gets a key's pending slot back when its request leaves pending. */
  pending: Pick<PendingCounter, 'release'>;
  clock?: () => Date;
  onVote?: (channel: string, result: string) => void;
  /** A request reached a final state through people or time: its status and how long it had waited. */
  onDecision?: (status: string, waitedSeconds: number) => void;
  log?: pino.Logger;
}): DecisionService {
  const clock = deps.clock ?? (() => new Date());

  /** After the commit: card updates, callbacks and long-poll wake-ups. Failures are logged; the reconciler catches up. */
  async function afterChange(requestId: string, apiKeyId: string, changed: Applied<unknown>['changed'], log?: Pick<pino.BaseLogger, 'warn'>, ask?: Applied<unknown>['ask']): Promise<void> {
    if (!changed) return;
    const warn = (what: string) => (err: unknown) => (log ?? deps.log)?.warn({ err, requestId }, what);
    if (ask && ask.targets.length) {
      await deps.jobs.requestOpened({ id: requestId, targets: ask.targets, expiresAt: ask.expiresAt }).catch(warn('could not enqueue the next stage\'s cards; the reconciler will'));
    }
    if (isFinal(changed.status)) {
      deps.onDecision?.(changed.status, Math.max(0, (clock().getTime() - changed.submittedAt.getTime()) / 1000));
      // A request leaves pending exactly once (the transition is guarded), so its slot is given back exactly once.
      await deps.pending.release(apiKeyId).catch(warn('could not release the key\'s pending slot; the reconciler resyncs it'));
    }
    await Promise.all([
      deps.jobs.requestChanged(requestId, changed.version).catch(warn('could not enqueue card updates; the reconciler will')),
      deps.events.publishChanged(requestId, changed.status).catch(warn('could not publish change')),
    ]);
  }

  /** Runs one locked change, then its after-commit work; returns the change's answer. */
  async function run<T>(requestId: string, apply: (tx: RequestTransaction, now: Date) => Promise<Applied<T>>, log?: Pick<pino.BaseLogger, 'warn'>): Promise<T> {
    const now = clock();
    const { answer, changed, ask, apiKeyId } = await deps.requests.change(requestId, async (tx) => ({ ...(await apply(tx, now)), apiKeyId: tx.request.apiKeyId }));
    await afterChange(requestId, apiKeyId, changed, log, ask);
    return answer;
  }

  /**
   * Who is voting. A `decide` key votes as its owner (the body may only confirm that person); an `attest` key for the
   * person its integration names; a chat user as the directory identifies them. Identifying may record a link by a
   * platform-verified email, before (never inside) the vote's transaction.
   */
  async function identifyVoter(input: VoteInput): Promise<{ voter: Voter | null; claimedPersonId?: string | null }> {
    if (input.person) {
      const known = Boolean(deps.directory.current().person(input.person));
      return { voter: { personId: input.person, known, alsoKnownAs: [input.person], approver: input.approver } };
    }
    const key = input.viaKey;
    if (key && !key.attest) {
      const ownerId = deps.directory.personIdOf(key.owner);
      const claimed = input.presented.asserted?.length ? (await deps.directory.identify(input.presented, input.channel)).personId : null;
      if (!ownerId) return { voter: null, claimedPersonId: claimed };
      const owner = deps.directory.current().person(ownerId);
      const email = owner?.identities.find((l) => l.identity.kind === 'email')?.identity.value ?? (ownerId.includes('@') ? ownerId : undefined);
      const approver: PersonIdentity = { name: owner?.name ?? ownerId, ...(email ? { email } : {}) };
      return { voter: { personId: ownerId, known: true, approver, viaKey: { id: key.id, name: key.name, ownerPersonId: ownerId, attested: false } }, claimedPersonId: claimed };
    }
    const identified = await deps.directory.identify(input.presented, input.channel);
    if (!identified.personId) return { voter: null };
    return {
      voter: {
        personId: identified.personId,
        known: Boolean(identified.person),
        alsoKnownAs: identified.alsoKnownAs,
        approver: input.approver,
        ...(key ? { viaKey: { id: key.id, name: key.name, ownerPersonId: deps.directory.personIdOf(key.owner), attested: true } } : {}),
      },
    };
  }

  return {
    async vote(requestId, input, log) {
      const { voter, claimedPersonId } = await identifyVoter(input);
      const attempt: VoteAttempt = { voter, claimedPersonId, channel: input.channel, decision: input.decision, reason: input.reason, standing: input.standing ?? null };
      const directory = deps.directory.current();
      const approver = voter?.approver ?? input.approver;
      const result = await run(requestId, (tx, now) => applyVote(tx, attempt, approver, partiesOf(tx.request, directory, deps.directory.personIdOf(tx.request.keyOwner)), now), log);
      deps.onVote?.(input.channel, result.outcome === 'accepted' ? input.decision : result.refusal);
      return result;
    },
    async identifyApprover(input) {
      const { voter, claimedPersonId } = await identifyVoter({ ...input, decision: 'approve' });
      if (!voter) throw new AppError('unidentified', 'The approver could not be identified.');
      if (voter.viaKey && !voter.viaKey.attested && claimedPersonId && claimedPersonId !== voter.personId) {
        throw new AppError('approver_mismatch', `This API key acts only as its owner (${voter.personId}); naming another approver needs a key with the \`attest\` scope.`);
      }
      return voter;
    },
    cancel: (requestId, apiKeyId, actor, reason) => run(requestId, (tx, now) => applyCancel(tx, apiKeyId, actor, reason, now)),
    expireIfDue: (requestId) => run(requestId, (tx, now) => applyExpiryIfDue(tx, now)),
    escalate: (requestId) => run(requestId, (tx, now) => applyEscalation(tx, now)),
    reportOutcome: (requestId, apiKeyId, actor, report) => run(requestId, (tx, now) => applyOutcomeReport(tx, apiKeyId, actor, report, now)),
  };
}
