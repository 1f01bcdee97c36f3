/** The API channel: intake, reads, long-poll, decisions, cancellation and outcome reports. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError, requestNotFound } from '../../domain/app-error';
import type { AuditActor } from '../../domain/audit-event';
import { identitiesOf } from '../../domain/identity';
import { parseDuration } from '../../domain/duration';
import type { ApiPrincipal } from '../../services/api-key-service';
import type { DecisionService } from '../../services/decision-service';
import type { IntakeService } from '../../services/intake-service';
import { canRead, seesAllRequests, type RequestDetail, type RequestQueryService } from '../../services/request-query-service';
import type { LongPollGate } from '../../ports/limits';
import { requestRoutes, waitQuery } from '../contract/contract';
import type { HttpLimits } from '../limits';
import { fromContract } from './route-options';

export interface RequestRouteDeps {
  intake: IntakeService;
  decisions: DecisionService;
  queries: RequestQueryService;
  limits: Pick<HttpLimits, 'intake'>;
  /** Concurrent long-polls per key (LONG_POLLS_PER_KEY, or the key's own override). */
  longPolls: { gate: LongPollGate; perKey: number };
  maxWaitSeconds: number;
  /** Aborted when the server starts shutting down: long-polls answer at once with the current state. */
  shutdown: AbortSignal;
  observeIntake: (status: number, seconds: number) => void;
}

/** How an API key appears in the audit trail when it acts itself (cancel, outcome report). */
function keyActor(principal: ApiPrincipal): AuditActor {
  return { key: `key:${principal.name}`, ids: principal.owner ? [principal.owner] : [] };
}

export function registerRequestRoutes(instance: FastifyInstance, deps: RequestRouteDeps): void {
  const app = instance.withTypeProvider<ZodTypeProvider>();

  app.route({
    ...fromContract(requestRoutes.submitRequest),
    // After authentication (the instance's hook), before the body is parsed: a flood costs one counter each.
    onRequest: async (req) => deps.limits.intake(req),
    handler: async (req, reply) => {
      const started = process.hrtime.bigint();
      // W3C trace context: the agent's trace continues through this request (a malformed header starts a new trace).
      const traceParent = typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined;
      const { answer, replayed } = await deps.intake.submit(req.principal, req.body, { idempotencyKey: req.headers['idempotency-key'], log: req.log, traceParent });
      req.log = req.log.child({ approvalId: answer.id });
      if (replayed) void reply.header('idempotent-replayed', 'true');
      void reply.header('location', answer.links.self).status(202);
      deps.observeIntake(202, Number(process.hrtime.bigint() - started) / 1e9);
      return answer;
    },
  });

  app.route({
    ...fromContract(requestRoutes.getRequest),
    schema: { ...requestRoutes.getRequest.schema, querystring: waitQuery(deps.maxWaitSeconds) },
    handler: async (req) => {
      const id = req.params.id.toLowerCase();
      const { wait } = req.query;
      const key = req.principal;
      const authorize = (detail: RequestDetail) => {
        if (!canRead(key, detail)) throw requestNotFound(id);
      };
      if (!wait) {
        const detail = await deps.queries.get(id);
        authorize(detail);
        return detail;
      }
      // Stop waiting when the client goes away or the server shuts down.
      const abort = new AbortController();
      const stop = () => abort.abort();
      req.raw.on('close', stop);
      deps.shutdown.addEventListener('abort', stop, { once: true });
      let entered = false;
      try {
        return await deps.queries.getWhenDecided(id, wait * 1000, {
          signal: abort.signal,
          authorize,
          beforeWait: async () => {
            const max = key.limits.longPolls ?? deps.longPolls.perKey;
            // The slot outlives a crashed node only briefly: it expires a little after the longest wait.
            if (!(await deps.longPolls.gate.enter(key.id, max, (wait + 10) * 1000))) {
              throw new AppError('too_many_long_polls', `This API key already holds ${max} open long-polls; wait for one to answer, or poll without \`wait\`.`, { retryAfterSeconds: 1 });
            }
            entered = true;
          },
        });
      } finally {
        deps.shutdown.removeEventListener('abort', stop);
        if (entered) await deps.longPolls.gate.leave(key.id).catch((err) => req.log.warn({ err }, 'could not release a long-poll slot; it expires on its own'));
      }
    },
  });

  app.route({
    ...fromContract(requestRoutes.listRequests),
    handler: async (req) => {
      const q = req.query;
      return deps.queries.list(
        { status: q.status, action: q.action, requester: q.requester, traceId: q.traceId, apiKeyId: seesAllRequests(req.principal) ? undefined : req.principal.id },
        { limit: q.limit, cursor: q.cursor },
      );
    },
  });

  app.route({
    ...fromContract(requestRoutes.decide),
    handler: async (req, reply) => {
      const id = req.params.id.toLowerCase();
      const { approver, decision, reason, standing } = req.body;
      const key = req.principal;
      // Everything the body says about the approver is the integration's claim; the directory decides who that is.
      const presented = { asserted: identitiesOf(approver), ...(approver?.name ? { name: approver.name } : {}) };
      // The locked transaction answers 404 for an unknown id before recording anything.
      const result = await deps.decisions.vote(
        id,
        {
          presented, approver: approver ?? {}, channel: 'api', decision, reason, viaKey: { id: key.id, name: key.name, owner: key.owner, attest: key.scopes.includes('attest') },
          ...(standing ? { standing: { forSeconds: parseDuration(standing.for)!, uses: standing.uses } } : {}),
        },
        req.log,
      );
      if (result.outcome === 'refused') throw new AppError(result.refusal, result.message, { requestId: id, status: result.status });
      void reply.status(201);
      return result;
    },
  });

  app.route({
    ...fromContract(requestRoutes.cancel),
    handler: async (req) => deps.decisions.cancel(req.params.id.toLowerCase(), req.principal.id, keyActor(req.principal), req.body?.reason),
  });

  app.route({
    ...fromContract(requestRoutes.reportOutcome),
    handler: async (req, reply) => {
      const id = req.params.id.toLowerCase();
      await deps.decisions.reportOutcome(id, req.principal.id, keyActor(req.principal), req.body);
      void reply.status(201);
      return { id, outcome: req.body.status };
    },
  });
}
