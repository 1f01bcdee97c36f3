/**
 * Intake: validate, decide by policy, write the request and its audit events in ONE statement (so nothing is
 * half-written and the hot path costs a single round trip), then schedule cards after the commit.
 */
import { createHash, randomUUID } from 'node:crypto';
import type pino from 'pino';
import { AppError } from '../domain/app-error';
import { canonicalJson } from '../domain/audit-chain';
import { protectContext } from '../domain/context-values';
import { identityKeys, normalizeEmail } from '../domain/identity';
import type { Policy } from '../domain/policy';
import type { JobQueue } from '../ports/job-queue';
import type { SqlPool } from '../store/database';
import type { ApiPrincipal } from './api-key-service';
import { auditInsertSql, POLICY_ACTOR, toAuditRow, type AuditEventInput } from './audit-event';
import type { SubmitRequestInput } from './request-input';

export interface IntakeAnswer {
  id: string;
  status: 'pending' | 'approved' | 'denied';
  expiresAt: string;
  rule: string;
  reason?: string;
  links: Record<string, string>;
}

export interface IntakeResult {
  answer: IntakeAnswer;
  /** True when an Idempotency-Key matched an earlier submission and its original answer is returned. */
  replayed: boolean;
}

export interface IntakeService {
  submit(principal: ApiPrincipal, input: SubmitRequestInput, opts: { idempotencyKey?: string; log?: Pick<pino.BaseLogger, 'warn'> }): Promise<IntakeResult>;
}

export function requestLinks(baseUrl: string, id: string): Record<string, string> {
  const self = `${baseUrl}/v1/requests/${id}`;
  return { self, wait: `${self}?wait=30`, decisions: `${self}/decisions`, cancel: `${self}/cancel`, outcome: `${self}/outcome`, audit: `${baseUrl}/v1/audit?requestId=${id}` };
}

const INSERT_SQL = `WITH ins AS (
  INSERT INTO approval_request (id, status, action, resource, requester_id, requester_type, requester_email, requester,
    on_behalf_of, justification, context, risk, environment, callback_url, trace_id, parent_request_id, api_key_id,
    api_key_name, key_owner_email, idempotency_key, body_hash, policy_rule, policy_outcome, policy_hash, requirement,
    approvals_required, expires_at, created_at, decided_at, decided_by, decision_reason)
  VALUES ($1::uuid, $2::"RequestStatus", $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11::jsonb, $12::"Risk", $13, $14,
    $15, $16::uuid, $17::uuid, $18, $19, $20, $21, $22, $23::"PolicyOutcome", $24, $25::jsonb, $26, $27::timestamptz,
    $28::timestamptz, $29::timestamptz, $30, $31)
  ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
  RETURNING id
), ev AS (
  ${auditInsertSql('$32', ' WHERE EXISTS (SELECT 1 FROM ins)')}
  RETURNING 1
)
SELECT (SELECT id FROM ins) AS id, (SELECT count(*)::int FROM ev) AS events`;

export function createIntakeService(deps: {
  sql: Pick<SqlPool, 'query'>;
  policy: () => Policy;
  jobs: Pick<JobQueue, 'requestOpened' | 'requestChanged' | 'isAvailable'>;
  config: { defaultTtlSeconds: number; maxTtlSeconds: number; callbacksEnabled: boolean; baseUrl: string };
  clock?: () => Date;
  onSubmitted?: (outcome: string) => void;
}): IntakeService {
  const clock = deps.clock ?? (() => new Date());

  async function replay(principal: ApiPrincipal, idempotencyKey: string, bodyHash: string): Promise<IntakeResult> {
    const { rows } = await deps.sql.query<{ id: string; body_hash: string; policy_outcome: string; policy_rule: string; expires_at: Date }>(
      'SELECT id, body_hash, policy_outcome, policy_rule, expires_at FROM approval_request WHERE api_key_id = $1::uuid AND idempotency_key = $2',
      [principal.id, idempotencyKey],
    );
    const row = rows[0];
    if (!row) throw new Error('idempotent insert conflicted but no row was found');
    if (row.body_hash !== bodyHash) {
      throw new AppError('idempotency_conflict', 409, 'This Idempotency-Key was already used with a different request body.', { field: 'Idempotency-Key', requestId: row.id });
    }
    const status = row.policy_outcome === 'require' ? 'pending' : row.policy_outcome === 'approve' ? 'approved' : 'denied';
    return {
      replayed: true,
      answer: { id: row.id, status, expiresAt: new Date(row.expires_at).toISOString(), rule: row.policy_rule, links: requestLinks(deps.config.baseUrl, row.id) },
    };
  }

  return {
    async submit(principal, input, { idempotencyKey, log }) {
      if (input.callbackUrl && !deps.config.callbacksEnabled) {
        throw new AppError('callbacks_disabled', 400, 'Invalid field `callbackUrl`: result callbacks are disabled on this server (CALLBACK_SIGNING_SECRET is not set).', { field: 'callbackUrl' });
      }
      if (input.expiresInSeconds && input.expiresInSeconds > deps.config.maxTtlSeconds) {
        throw new AppError('validation_failed', 400, `Invalid field \`expiresInSeconds\`: at most ${deps.config.maxTtlSeconds}.`, { field: 'expiresInSeconds' });
      }
      // Fail before writing: a request we cannot schedule cards or expiry for would sit unseen until the reconciler ran.
      if (!deps.jobs.isAvailable()) throw new AppError('service_unavailable', 503, 'The job queue (Redis) is unavailable; nothing was recorded. Retry shortly.');

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
      const status = decision.outcome === 'require' ? 'pending' : decision.outcome === 'approve' ? 'approved' : 'denied';
      const context = protectContext(id, input.context, policy.isSensitiveKey);
      const requester = { ...input.requester, email: normalizeEmail(input.requester.email) };
      const onBehalfOf = input.onBehalfOf ? { ...input.onBehalfOf, email: normalizeEmail(input.onBehalfOf.email) } : null;
      const decidedReason = decision.outcome === 'deny' ? (decision.message ?? `Denied by policy rule ${decision.rule}`) : decision.outcome === 'approve' ? `Routine: approved by policy rule ${decision.rule}` : null;

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

      // A named statement: parsed and planned once per connection.
      const { rows } = await deps.sql.query<{ id: string | null }>({ name: 'cs_intake_insert', text: INSERT_SQL, values: [
        id, status, input.action, input.resource, input.requester.id, input.requester.type, requester.email ?? null,
        JSON.stringify(requester), onBehalfOf ? JSON.stringify(onBehalfOf) : null, input.justification ?? null, JSON.stringify(context),
        input.risk ?? null, input.environment ?? null, input.callbackUrl ?? null, input.traceId ?? null, input.parentRequestId ?? null,
        principal.id, principal.name, principal.ownerEmail, idempotencyKey ?? null, bodyHash, decision.rule, decision.outcome, policy.hash,
        decision.requirement ? JSON.stringify(decision.requirement) : null, decision.requirement?.approvals ?? 0, expiresAt, now,
        status === 'pending' ? null : now, status === 'pending' ? null : 'policy', decidedReason,
        JSON.stringify(events.map(toAuditRow)),
      ] });
      if (!rows[0]?.id) return replay(principal, idempotencyKey!, bodyHash);
      deps.onSubmitted?.(decision.outcome);

      // After the commit: scheduling failures are logged, not surfaced; the reconciler re-derives the jobs from Postgres.
      try {
        if (status === 'pending') {
          await deps.jobs.requestOpened({ id, targets: decision.requirement?.channels ?? [], expiresAt });
        } else if (input.callbackUrl) {
          await deps.jobs.requestChanged(id, `${status}:0`);
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
