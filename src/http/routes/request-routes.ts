/** The API channel: intake, reads, long-poll, decisions, cancellation and outcome reports. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError } from '../../domain/app-error';
import { REQUEST_STATUSES } from '../../domain/approval';
import { requireScope, type ApiPrincipal } from '../../services/api-key-service';
import { refusalStatus, type DecisionService } from '../../services/decision-service';
import type { IntakeService } from '../../services/intake-service';
import { canRead, type RequestQueryService } from '../../services/request-query-service';
import { decisionSchema, outcomeReportSchema, submitRequestSchema } from '../../services/request-input';
import { parseInput } from '../error-handler';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A malformed id is a 404 like an unknown one, and never reaches Postgres's uuid cast. */
function parseId(params: unknown): string {
  const id = String((params as { id?: unknown })?.id ?? '');
  if (!UUID.test(id)) throw new AppError('not_found', 404, `No request with id ${id}.`, { field: 'id' });
  return id.toLowerCase();
}
const listQuery = z
  .object({
    status: z.enum(REQUEST_STATUSES).optional(),
    action: z.string().min(1).optional(),
    requester: z.string().min(1).optional(),
    traceId: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().min(1).optional(),
  })
  .strict();
const cancelBody = z.object({ reason: z.string().trim().min(1).max(2000).optional() }).strict();
const idempotencyKey = z.string().min(1).max(200).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export interface RequestRouteDeps {
  intake: IntakeService;
  decisions: DecisionService;
  queries: RequestQueryService;
  maxWaitSeconds: number;
  /** Aborted when the server starts shutting down: long-polls answer at once with the current state. */
  shutdown: AbortSignal;
  observeIntake: (status: number, seconds: number) => void;
}

/** How an API key appears in the audit trail when it acts itself (cancel, outcome report). */
function keyActor(principal: ApiPrincipal) {
  return { key: `key:${principal.name}`, ids: principal.ownerEmail ? [principal.ownerEmail] : [] };
}

function principalOf(req: FastifyRequest): ApiPrincipal {
  return (req as FastifyRequest & { principal: ApiPrincipal }).principal;
}

export function registerRequestRoutes(app: FastifyInstance, deps: RequestRouteDeps): void {
  app.post('/v1/requests', async (req, reply) => {
    const started = process.hrtime.bigint();
    const principal = principalOf(req);
    requireScope(principal, 'submit');
    const header = req.headers['idempotency-key'];
    const key = header === undefined ? undefined : parseInput(idempotencyKey, header, 'Idempotency-Key');
    const input = parseInput(submitRequestSchema, req.body);
    const { answer, replayed } = await deps.intake.submit(principal, input, { idempotencyKey: key, log: req.log });
    req.log = req.log.child({ approvalId: answer.id });
    if (replayed) void reply.header('idempotent-replayed', 'true');
    void reply.header('location', answer.links.self).status(202);
    deps.observeIntake(202, Number(process.hrtime.bigint() - started) / 1e9);
    return answer;
  });

  app.get('/v1/requests/:id', async (req) => {
    const principal = principalOf(req);
    requireScope(principal, 'read');
    const id = parseId(req.params);
    const { wait } = parseInput(z.object({ wait: z.coerce.number().min(0).max(deps.maxWaitSeconds).optional() }).strict(), req.query);
    let detail = await deps.queries.get(id);
    if (!canRead(principal, detail)) throw new AppError('not_found', 404, `No request with id ${id}.`, { field: 'id' });
    if (wait && detail.status === 'pending') {
      // Stop waiting when the client goes away or the server shuts down.
      const abort = new AbortController();
      const stop = () => abort.abort();
      req.raw.on('close', stop);
      deps.shutdown.addEventListener('abort', stop, { once: true });
      try {
        detail = await deps.queries.getWhenDecided(id, wait * 1000, abort.signal);
      } finally {
        deps.shutdown.removeEventListener('abort', stop);
      }
    }
    return detail;
  });

  app.get('/v1/requests', async (req) => {
    const principal = principalOf(req);
    requireScope(principal, 'read');
    const q = parseInput(listQuery, req.query);
    const seeAll = principal.scopes.includes('audit') || principal.scopes.includes('decide');
    const { items, nextCursor } = await deps.queries.list(
      { status: q.status, action: q.action, requester: q.requester, traceId: q.traceId, apiKeyId: seeAll ? undefined : principal.id },
      { limit: q.limit, cursor: q.cursor },
    );
    return { items, nextCursor };
  });

  app.post('/v1/requests/:id/decisions', async (req, reply) => {
    const principal = principalOf(req);
    requireScope(principal, 'decide');
    const id = parseId(req.params);
    const body = parseInput(decisionSchema, req.body);
    // The locked transaction answers 404 for an unknown id before recording anything.
    const result = await deps.decisions.vote(id, { approver: body.approver, channel: 'api', decision: body.decision, reason: body.reason, apiKeyId: principal.id }, req.log);
    if (result.outcome === 'refused') {
      throw new AppError(result.refusal, refusalStatus(result.refusal), result.message, { requestId: id, status: result.status });
    }
    void reply.status(201);
    return result;
  });

  app.post('/v1/requests/:id/cancel', async (req) => {
    const principal = principalOf(req);
    requireScope(principal, 'submit');
    const id = parseId(req.params);
    const body = parseInput(cancelBody, req.body ?? {});
    return deps.decisions.cancel(id, principal.id, keyActor(principal), body.reason);
  });

  app.post('/v1/requests/:id/outcome', async (req, reply) => {
    const principal = principalOf(req);
    requireScope(principal, 'submit');
    const id = parseId(req.params);
    const body = parseInput(outcomeReportSchema, req.body);
    await deps.decisions.reportOutcome(id, principal.id, keyActor(principal), body);
    void reply.status(201);
    return { id, outcome: body.status };
  });
}
