/**
 * Intake: decide by policy, write the request and its audit events in ONE statement (so nothing is half-written and
 * the hot path costs a single round trip), then schedule cards after the commit.
 */
import { createHash, randomUUID } from 'node:crypto';
import type pino from 'pino';
import { AppError } from '../domain/app-error';
import { canonicalJson } from '../domain/canonical-json';
import { POLICY_ACTOR, type AuditEventInput } from '../domain/audit-event';
import { protectContext, type ContextValue } from '../domain/context-values';
import { identitiesOf, identityKeys, normalizeEmail, type PersonIdentity, type RequesterIdentity } from '../domain/identity';
import type { Directory } from '../domain/people';
import { budgetWindow, resolveRequirement, type BudgetExhaustion, type Policy, type PolicyDecision, type RequesterType, type Risk } from '../domain/policy';
import { formatDuration } from '../domain/duration';
import { grantActionHash, type GrantSubject } from '../domain/grant';
import { requirementStages } from '../domain/approval';
import { policyDecisionReason, stateVersion, statusAfterPolicy } from '../domain/request-lifecycle';
import type { JobQueue, RequestEvents } from '../ports/job-queue';
import type { PendingCounter } from '../ports/limits';
import type { CallbackHostPolicy } from '../deliveries/callback-guard';
import type { RequestStore } from '../store/request-store';
import type { BudgetCounter, BudgetStore } from '../store/budget-store';
import type { StandingApprovalStore } from '../store/standing-approval-store';
import type { ApiPrincipal } from './api-key-service';

/**
 * A request as the agent submitted it (already validated by the API contract). Every field is the agent's claim, except
 * those its key pins (requester id and type, environment), which come from the key.
 */
export interface SubmitRequestInput {
  action: string;
  resource: string;
  requester: Omit<RequesterIdentity, 'id' | 'type'> & { id?: string; type?: RequesterType };
  onBehalfOf?: PersonIdentity;
  justification?: string;
  context?: Record<string, ContextValue>;
  risk?: Risk;
  environment?: string;
  expiresInSeconds?: number;
  callbackUrl?: string;
  traceId?: string;
  parentRequestId?: string;
}

export interface IntakeAnswer {
  id: string;
  status: 'pending' | 'approved' | 'denied';
  expiresAt: string;
  rule: string;
  reason?: string;
  /** Set when the rule's budget was spent, so the request waits for people instead of being approved by policy. */
  budgetExhausted?: boolean;
  links: RequestLinks;
}

export interface IntakeResult {
  answer: IntakeAnswer;
  /** True when an Idempotency-Key matched an earlier submission and its original answer is returned. */
  replayed: boolean;
}

export interface IntakeService {
  submit(
    principal: ApiPrincipal,
    input: SubmitRequestInput,
    opts: {
      idempotencyKey?: string;
      log?: Pick<pino.BaseLogger, 'warn'>;
      /**
       * A W3C traceparent stored with the request so its later spans continue the agent's trace. The route passes the
       * agent's header; the composition root's tracing replaces it with the intake span's own (or drops it when tracing
       * is off), so what is stored is always a context this service produced.
       */
      traceParent?: string;
    },
  ): Promise<IntakeResult>;
}

export interface RequestLinks {
  self: string;
  wait: string;
  decisions: string;
  cancel: string;
  outcome: string;
  audit: string;
}

export function requestLinks(baseUrl: string, id: string): RequestLinks {
  const self = `${baseUrl}/v1/requests/${id}`;
  return { self, wait: `${self}?wait=30`, decisions: `${self}/decisions`, cancel: `${self}/cancel`, outcome: `${self}/outcome`, audit: `${baseUrl}/v1/audit?requestId=${id}` };
}

/** Fields of a request the agent asserts (shown as such on cards and in the trail) unless its key pins them. */
export const ASSERTED_FIELDS = ['requester.id', 'requester.type', 'requester.identities', 'onBehalfOf', 'environment', 'risk', 'justification', 'context', 'resource', 'action'] as const;

/** The requester and environment after the key's pins: pinned values win, a body that contradicts them is refused. */
export function applyPins(principal: Pick<ApiPrincipal, 'pins'>, input: SubmitRequestInput): { requester: RequesterIdentity; environment?: string; pinned: string[] } {
  const pins = principal.pins;
  const pinned: string[] = [];
  const take = <T>(field: string, pin: T | undefined, claimed: T | undefined): T | undefined => {
    if (pin === undefined) return claimed;
    if (claimed !== undefined && claimed !== pin) {
      throw new AppError('pinned_field', `Invalid field \`${field}\`: this API key pins it to "${String(pin)}"; leave it out or send that value.`, { field, pinned: pin });
    }
    pinned.push(field);
    return pin;
  };
  const id = take('requester.id', pins.requesterId, input.requester.id);
  const type = take('requester.type', pins.requesterType, input.requester.type);
  const environment = take('environment', pins.environment, input.environment);
  if (!id) throw new AppError('validation_failed', 'Invalid field `requester.id`: required (this key does not pin it).', { field: 'requester.id' });
  if (!type) throw new AppError('validation_failed', 'Invalid field `requester.type`: required (this key does not pin it).', { field: 'requester.type' });
  return { requester: { ...input.requester, id, type }, environment, pinned };
}

/**
 * How long a request waits: the rule's TTL (or the server's default when the rule sets none), which the agent's
 * `expiresInSeconds` may shorten but never extend.
 */
export function requestTtlSeconds(asked: number | undefined, ruleTtl: number | undefined, config: { defaultTtlSeconds: number; maxTtlSeconds: number }): number {
  const ceiling = Math.min(ruleTtl ?? config.defaultTtlSeconds, config.maxTtlSeconds);
  return asked === undefined ? ceiling : Math.min(asked, ceiling);
}

/** The person id behind a set of identities: the first the directory knows, else the first identity's implicit id. */
function personIdOf(directory: Directory, person: PersonIdentity | null | undefined): string | null {
  const identities = identitiesOf(person);
  for (const i of identities) {
    const p = directory.resolve(i);
    if (p) return p.id;
  }
  return identities[0] ? directory.personIdOf(identities[0]) : null;
}

export function createIntakeService(deps: {
  requests: Pick<RequestStore, 'insert' | 'findByIdempotencyKey'>;
  /** Budget counters of routine rules; only rules that set a budget touch them. */
  budgets: Pick<BudgetStore, 'draw' | 'giveBack'>;
  /** Standing approvals; only rules that allow them touch them. */
  standing: Pick<StandingApprovalStore, 'draw' | 'giveBack'>;
  policy: () => Policy;
  directory: () => Directory;
  /** Where callbacks may go; checked before anything is stored. */
  callbackHosts: Pick<CallbackHostPolicy, 'check'>;
  jobs: Pick<JobQueue, 'requestOpened' | 'requestChanged' | 'isAvailable' | 'expiryWarningDue' | 'reminderDue' | 'escalationDue'>;
  /** Announces a request that now waits for approvers (the web console's live inbox). */
  events?: Pick<RequestEvents, 'publishChanged'>;
  /** Pending requests per key, shared by every node. */
  pending: PendingCounter;
  config: { defaultTtlSeconds: number; maxTtlSeconds: number; baseUrl: string; maxPendingPerKey: number };
  clock?: () => Date;
  onSubmitted?: (outcome: string) => void;
}): IntakeService {
  const clock = deps.clock ?? (() => new Date());

  /**
   * Draws on the matched rule's budget when it has one. Windows are fixed and aligned to the budget's period (see
   * budgetWindow): simple, exact, and shared by every node through one counter row; a burst straddling a window edge can
   * get up to twice the count across the two windows, which the README states.
   */
  async function drawBudget(matched: PolicyDecision, now: Date): Promise<{ decision: PolicyDecision; drawn?: { counter: BudgetCounter; used: number }; exhausted?: BudgetExhaustion }> {
    const budget = matched.budget;
    if (!budget) return { decision: matched };
    const window = budgetWindow(now, budget.perSeconds);
    const counter: BudgetCounter = { rule: matched.rule, key: budget.key, windowStart: window.start, windowEnd: window.end };
    const used = await deps.budgets.draw(counter, budget.count);
    if (used !== null) return { decision: matched, drawn: { counter, used } };
    return {
      decision: budget.exhausted,
      exhausted: { rule: matched.rule, count: budget.count, perSeconds: budget.perSeconds, windowStart: window.start.toISOString(), windowEnd: window.end.toISOString(), then: budget.thenRule ?? null },
    };
  }

  async function giveBack(counter: BudgetCounter | undefined, log?: Pick<pino.BaseLogger, 'warn'>): Promise<void> {
    if (counter) await deps.budgets.giveBack(counter).catch((err: unknown) => log?.warn({ err }, 'could not give back a budget unit; the budget is one short until its window closes'));
  }

  async function giveBackStanding(id: string | undefined, log?: Pick<pino.BaseLogger, 'warn'>): Promise<void> {
    if (id) await deps.standing.giveBack(id).catch((err: unknown) => log?.warn({ err, standingApprovalId: id }, 'could not give back a standing approval use'));
  }

  async function replay(principal: ApiPrincipal, idempotencyKey: string, bodyHash: string): Promise<IntakeResult> {
    const original = await deps.requests.findByIdempotencyKey(principal.id, idempotencyKey);
    if (!original) throw new Error('idempotent insert conflicted but no row was found');
    if (original.bodyHash !== bodyHash) {
      throw new AppError('idempotency_conflict', 'This Idempotency-Key was already used with a different request body.', { field: 'Idempotency-Key', requestId: original.id });
    }
    return {
      replayed: true,
      answer: {
        id: original.id,
        status: original.standingApproval ? 'approved' : statusAfterPolicy(original.policyOutcome),
        expiresAt: original.expiresAt.toISOString(),
        rule: original.policyRule,
        ...(original.budgetExhausted ? { budgetExhausted: true } : {}),
        links: requestLinks(deps.config.baseUrl, original.id),
      },
    };
  }

  return {
    async submit(principal, input, { idempotencyKey, log, traceParent }) {
      if (input.callbackUrl) {
        const checked = deps.callbackHosts.check(input.callbackUrl, principal.callbackHosts);
        if ('problem' in checked) throw new AppError('callback_host_refused', `Invalid field \`callbackUrl\`: ${checked.problem}.`, { field: 'callbackUrl' });
      }
      if (input.expiresInSeconds && input.expiresInSeconds > deps.config.maxTtlSeconds) {
        throw new AppError('validation_failed', `Invalid field \`expiresInSeconds\`: at most ${deps.config.maxTtlSeconds}.`, { field: 'expiresInSeconds' });
      }
      // Fail before writing: a request we cannot schedule cards or expiry for would sit unseen until the reconciler ran.
      if (!deps.jobs.isAvailable()) throw new AppError('service_unavailable', 'The job queue (Redis) is unavailable; nothing was recorded. Retry shortly.');

      const pinnedView = applyPins(principal, input);
      const policy = deps.policy();
      const directory = deps.directory();
      const now = clock();
      const id = randomUUID();
      const bodyHash = createHash('sha256').update(canonicalJson(input)).digest('hex');
      const requester: RequesterIdentity = { ...pinnedView.requester, email: normalizeEmail(pinnedView.requester.email) };
      const environment = pinnedView.environment;
      const matched = policy.evaluate({ action: input.action, resource: input.resource, environment, risk: input.risk, requester: { id: requester.id, type: requester.type, email: requester.email } });
      // A routine rule with a budget draws one unit; a spent budget turns the request over to its `then` outcome.
      // A rule without one costs nothing here (no query).
      const { decision, drawn, exhausted } = await drawBudget(matched, now);
      const expiresAt = new Date(now.getTime() + requestTtlSeconds(input.expiresInSeconds, decision.ttlSeconds, deps.config) * 1000);
      const context = protectContext(id, input.context, policy.isSensitiveKey);
      const onBehalfOf = input.onBehalfOf ? { ...input.onBehalfOf, email: normalizeEmail(input.onBehalfOf.email) } : null;

      // Groups are snapshotted as person ids, so a later policy or directory change never moves a pending request.
      const resolved = decision.requirement ? resolveRequirement(decision.requirement, policy.groups, (refs) => directory.members(refs)) : null;
      const requirement = resolved && exhausted ? { ...resolved, budgetExhausted: exhausted } : resolved;
      const people = {
        requester: personIdOf(directory, requester),
        onBehalfOf: personIdOf(directory, onBehalfOf),
        keyOwner: principal.owner ? (directory.resolveRef(principal.owner)?.id ?? principal.owner) : null,
      };
      const asserted = ASSERTED_FIELDS.filter((f) => !pinnedView.pinned.includes(f));
      // A rule that allows standing approvals looks for one covering this request (same rule, action, resource,
      // environment and requester; granted by none of its parties); a rule that allows none costs no query.
      const standing = requirement?.standing && !requirement.alwaysAsk
        ? await deps.standing.draw({
          rule: decision.rule, action: input.action, resource: input.resource, environment: environment ?? null, requesterId: requester.id, requesterType: requester.type,
          parties: [people.requester, people.onBehalfOf, people.keyOwner].filter((p): p is string => Boolean(p)), bounds: requirement.standing, now,
        })
        : null;
      const status = standing ? 'approved' : statusAfterPolicy(decision.outcome);
      const decidedReason = standing ? `Approved by standing approval ${standing.id} of ${standing.grantedByLabel}` : policyDecisionReason(decision);
      const decidedBy = status === 'pending' ? null : standing ? standing.grantedByLabel : 'policy';

      const requesterActor = { key: `${requester.type}:${requester.id}`, ids: identityKeys(requester), label: requester.name };
      const events: AuditEventInput[] = [
        {
          type: 'request.submitted',
          requestId: id,
          actor: requesterActor,
          channel: 'api',
          at: now,
          data: {
            action: input.action, resource: input.resource, requester, onBehalfOf, justification: input.justification ?? null, context,
            risk: input.risk ?? null, environment: environment ?? null, callbackUrl: input.callbackUrl ?? null,
            traceId: input.traceId ?? null, parentRequestId: input.parentRequestId ?? null, apiKey: principal.name,
            keyOwner: principal.owner, people, pinned: pinnedView.pinned, asserted,
            idempotencyKey: idempotencyKey ?? null, expiresAt: expiresAt.toISOString(),
          },
        },
        {
          type: 'policy.matched',
          requestId: id,
          actor: POLICY_ACTOR,
          channel: 'api',
          at: now,
          data: {
            rule: decision.rule, outcome: decision.outcome, policyHash: policy.hash, requirement, ...(decision.assumedRisk ? { assumedRisk: decision.assumedRisk } : {}),
            ...(drawn ? { budget: { used: drawn.used, count: matched.budget!.count, per: formatDuration(matched.budget!.perSeconds), windowStart: drawn.counter.windowStart.toISOString(), windowEnd: drawn.counter.windowEnd.toISOString() } } : {}),
          },
        },
      ];
      if (exhausted) {
        events.push({
          type: 'policy.budget_exhausted', requestId: id, actor: POLICY_ACTOR, channel: 'api', at: now,
          data: { ...exhausted, per: formatDuration(exhausted.perSeconds), by: matched.budget!.by, escalatedTo: exhausted.then ?? 'inline require outcome' },
        });
      }
      if (standing) {
        events.push({
          type: 'standing_approval.used', requestId: id, actor: POLICY_ACTOR, channel: 'api', at: now,
          data: { standingApprovalId: standing.id, grantedBy: standing.grantedBy, usesLeft: standing.usesLeft, expiresAt: standing.expiresAt.toISOString() },
        });
        events.push({ type: 'request.decided', requestId: id, actor: POLICY_ACTOR, channel: 'api', at: now, data: { status, by: 'standing-approval', standingApprovalId: standing.id, grantedBy: standing.grantedBy, rule: decision.rule, reason: decidedReason } });
      } else if (status !== 'pending') {
        events.push({ type: 'request.decided', requestId: id, actor: POLICY_ACTOR, channel: 'api', at: now, data: { status, by: 'policy', rule: decision.rule, reason: decidedReason } });
      }

      // A pending request takes one of its key's slots before it is written; a routine or forbidden one takes none.
      if (status === 'pending') {
        const max = principal.limits.maxPending ?? deps.config.maxPendingPerKey;
        if (!(await deps.pending.acquire(principal.id, max))) {
          throw new AppError('too_many_pending', `This API key already has ${max} requests waiting for approvers; nothing was recorded. Retry when some are decided.`, { retryAfterSeconds: 30 });
        }
      }
      const release = async () => {
        if (status === 'pending') await deps.pending.release(principal.id).catch((err) => log?.warn({ err }, 'could not release a pending slot; the reconciler resyncs it'));
      };
      const inserted = await deps.requests.insert(
        {
          id, traceParent: traceParent ?? null, status, action: input.action, resource: input.resource, requester, onBehalfOf,
          justification: input.justification ?? null, context, risk: input.risk ?? null, environment: environment ?? null,
          callbackUrl: input.callbackUrl ?? null, traceId: input.traceId ?? null, parentRequestId: input.parentRequestId ?? null,
          apiKeyId: principal.id, apiKeyName: principal.name, keyOwner: principal.owner,
          requesterPerson: people.requester, onBehalfOfPerson: people.onBehalfOf, keyOwnerPerson: people.keyOwner, pinnedFields: pinnedView.pinned,
          // What the grant binds: the body as the agent sent it (the executor holds the same).
          actionHash: grantActionHash(input as unknown as GrantSubject), grantTtlSeconds: decision.grantTtlSeconds ?? null,
          idempotencyKey: idempotencyKey ?? null, bodyHash, policyRule: decision.rule, policyOutcome: decision.outcome, policyHash: policy.hash,
          requirement, approvalsRequired: requirement?.approvals ?? 0, expiresAt, createdAt: now,
          decidedAt: status === 'pending' ? null : now, decidedBy, decisionReason: decidedReason, standingApprovalId: standing?.id ?? null,
        },
        events,
      ).catch(async (err: unknown) => {
        await release();
        await giveBack(drawn?.counter, log);
        await giveBackStanding(standing?.id, log);
        throw err;
      });
      if (!inserted) {
        await release();
        // The original submission already drew its unit (or use): this replay gives back the one it just took.
        await giveBack(drawn?.counter, log);
        await giveBackStanding(standing?.id, log);
        return replay(principal, idempotencyKey!, bodyHash);
      }
      deps.onSubmitted?.(decision.outcome);

      // After the commit: scheduling failures are logged, not surfaced; the reconciler re-derives the jobs from Postgres.
      try {
        if (status === 'pending') {
          // A staged requirement asks its first stage only; later stages get their cards as earlier ones approve.
          await deps.jobs.requestOpened({ id, targets: requirement ? requirementStages(requirement)[0].channels : [], expiresAt });
          const warnSeconds = requirement?.warnBeforeExpirySeconds;
          if (warnSeconds) await deps.jobs.expiryWarningDue(id, new Date(expiresAt.getTime() - warnSeconds * 1000));
          if (requirement?.escalate) await deps.jobs.escalationDue(id, new Date(now.getTime() + requirement.escalate.afterSeconds * 1000));
          for (const [index, seconds] of (requirement?.remindSeconds ?? []).entries()) await deps.jobs.reminderDue(id, index, new Date(now.getTime() + seconds * 1000));
          await deps.events?.publishChanged(id, status);
        } else if (input.callbackUrl) {
          await deps.jobs.requestChanged(id, stateVersion(status, 0));
        }
      } catch (err) {
        log?.warn({ err, requestId: id }, 'could not enqueue jobs after intake; the reconciler will');
      }

      const answer: IntakeAnswer = { id, status, expiresAt: expiresAt.toISOString(), rule: decision.rule, links: requestLinks(deps.config.baseUrl, id) };
      if (decidedReason && status === 'denied') answer.reason = decidedReason;
      if (exhausted) answer.budgetExhausted = true;
      return { answer, replayed: false };
    },
  };
}
