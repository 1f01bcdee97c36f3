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
import { identityKeys, normalizeEmail, type PersonIdentity, type RequesterIdentity } from '../domain/identity';
import type { Policy, Risk } from '../domain/policy';
import { policyDecisionReason, stateVersion, statusAfterPolicy } from '../domain/request-lifecycle';
import type { JobQueue } from '../ports/job-queue';
import type { RequestStore } from '../store/request-store';
import type { ApiPrincipal } from './api-key-service';

/** A request as the agent submitted it (already validated by the API contract). Every field is the agent's claim. */
export interface SubmitRequestInput {
  action: string;
  resource: string;
  requester: RequesterIdentity;
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
  links: RequestLinks;
}

export interface IntakeResult {
  answer: IntakeAnswer;
  /** True when an Idempotency-Key matched an earlier submission and its original answer is returned. */
  replayed: boolean;
}

export interface IntakeService {
  submit(principal: ApiPrincipal, input: SubmitRequestInput, opts: { idempotencyKey?: string; log?: Pick<pino.BaseLogger, 'warn'> }): Promise<IntakeResult>;
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

export function createIntakeService(deps: {
  requests: Pick<RequestStore, 'insert' | 'findByIdempotencyKey'>;
  policy: () => Policy;
  jobs: Pick<JobQueue, 'requestOpened' | 'requestChanged' | 'isAvailable'>;
  config: { defaultTtlSeconds: number; maxTtlSeconds: number; callbacksEnabled: boolean; baseUrl: string };
  clock?: () => Date;
  onSubmitted?: (outcome: string) => void;
}): IntakeService {
  const clock = deps.clock ?? (() => new Date());

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
        status: statusAfterPolicy(original.policyOutcome),
        expiresAt: original.expiresAt.toISOString(),
        rule: original.policyRule,
        links: requestLinks(deps.config.baseUrl, original.id),
      },
    };
  }

  return {
    async submit(principal, input, { idempotencyKey, log }) {
      if (input.callbackUrl && !deps.config.callbacksEnabled) {
        throw new AppError('callbacks_disabled', 'Invalid field `callbackUrl`: result callbacks are disabled on this server (CALLBACK_SIGNING_SECRET is not set).', { field: 'callbackUrl' });
      }
      if (input.expiresInSeconds && input.expiresInSeconds > deps.config.maxTtlSeconds) {
        throw new AppError('validation_failed', `Invalid field \`expiresInSeconds\`: at most ${deps.config.maxTtlSeconds}.`, { field: 'expiresInSeconds' });
      }
      // Fail before writing: a request we cannot schedule cards or expiry for would sit unseen until the reconciler ran.
      if (!deps.jobs.isAvailable()) throw new AppError('service_unavailable', 'The job queue (Redis) is unavailable; nothing was recorded. Retry shortly.');

      const policy = deps.policy();
      const now = clock();
      const id = randomUUID();
      const bodyHash = createHash('sha256').update(canonicalJson(input)).digest('hex');
      const decision = policy.evaluate({
        action: input.action,
        resource: input.resource,
        environment: input.environment,
        risk: input.risk,
        requester: { id: input.requester.id, type: input.requester.type, email: input.requester.email },
      });
      const ttl = Math.min(input.expiresInSeconds ?? decision.ttlSeconds ?? deps.config.defaultTtlSeconds, deps.config.maxTtlSeconds);
      const expiresAt = new Date(now.getTime() + ttl * 1000);
      const status = statusAfterPolicy(decision.outcome);
      const context = protectContext(id, input.context, policy.isSensitiveKey);
      const requester: RequesterIdentity = { ...input.requester, email: normalizeEmail(input.requester.email) };
      const onBehalfOf = input.onBehalfOf ? { ...input.onBehalfOf, email: normalizeEmail(input.onBehalfOf.email) } : null;
      const decidedReason = policyDecisionReason(decision);

      const requesterActor = { key: `${input.requester.type}:${input.requester.id}`, ids: identityKeys(requester), label: input.requester.name };
      const events: AuditEventInput[] = [
        {
          type: 'request.submitted',
          requestId: id,
          actor: requesterActor,
          channel: 'api',
          at: now,
          data: {
            action: input.action, resource: input.resource, requester, onBehalfOf, justification: input.justification ?? null, context,
            risk: input.risk ?? null, environment: input.environment ?? null, callbackUrl: input.callbackUrl ?? null,
            traceId: input.traceId ?? null, parentRequestId: input.parentRequestId ?? null, apiKey: principal.name,
            keyOwner: principal.ownerEmail, idempotencyKey: idempotencyKey ?? null, expiresAt: expiresAt.toISOString(),
          },
        },
        {
          type: 'policy.matched',
          requestId: id,
          actor: POLICY_ACTOR,
          channel: 'api',
          at: now,
          data: { rule: decision.rule, outcome: decision.outcome, policyHash: policy.hash, requirement: decision.requirement ?? null },
        },
      ];
      if (status !== 'pending') {
        events.push({ type: 'request.decided', requestId: id, actor: POLICY_ACTOR, channel: 'api', at: now, data: { status, by: 'policy', rule: decision.rule, reason: decidedReason } });
      }

      const inserted = await deps.requests.insert(
        {
          id, status, action: input.action, resource: input.resource, requester, onBehalfOf,
          justification: input.justification ?? null, context, risk: input.risk ?? null, environment: input.environment ?? null,
          callbackUrl: input.callbackUrl ?? null, traceId: input.traceId ?? null, parentRequestId: input.parentRequestId ?? null,
          apiKeyId: principal.id, apiKeyName: principal.name, keyOwnerEmail: principal.ownerEmail, idempotencyKey: idempotencyKey ?? null,
          bodyHash, policyRule: decision.rule, policyOutcome: decision.outcome, policyHash: policy.hash,
          requirement: decision.requirement ?? null, approvalsRequired: decision.requirement?.approvals ?? 0, expiresAt, createdAt: now,
          decidedAt: status === 'pending' ? null : now, decidedBy: status === 'pending' ? null : 'policy', decisionReason: decidedReason,
        },
        events,
      );
      if (!inserted) return replay(principal, idempotencyKey!, bodyHash);
      deps.onSubmitted?.(decision.outcome);

      // After the commit: scheduling failures are logged, not surfaced; the reconciler re-derives the jobs from Postgres.
      try {
        if (status === 'pending') {
          await deps.jobs.requestOpened({ id, targets: decision.requirement?.channels ?? [], expiresAt });
        } else if (input.callbackUrl) {
          await deps.jobs.requestChanged(id, stateVersion(status, 0));
        }
      } catch (err) {
        log?.warn({ err, requestId: id }, 'could not enqueue jobs after intake; the reconciler will');
      }

      const answer: IntakeAnswer = { id, status, expiresAt: expiresAt.toISOString(), rule: decision.rule, links: requestLinks(deps.config.baseUrl, id) };
      if (decidedReason && status === 'denied') answer.reason = decidedReason;
      return { answer, replayed: false };
    },
  };
}
