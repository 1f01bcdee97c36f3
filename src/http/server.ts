/**
 * The HTTP layer: the Fastify server, its routes (declared from the API contract in src/http/contract/), API-key
 * authentication, the one error mapper, and the operational endpoints. Whatever chat adapters mount shares this
 * server. HTTP statuses exist only in this folder.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type pino from 'pino';
import type { ApiKeyService } from '../services/api-key-service';
import type { TransparencyLog } from '../evidence/transparency-log';
import type { AuditService } from '../services/audit-service';
import { lazyChildLogger } from '../observability/logger';
import { errorHandler } from './error-handler';
import { authenticateRequest } from './principal';
import { registerAuditRoutes } from './routes/audit-routes';
import { registerRequestRoutes, type RequestRouteDeps } from './routes/request-routes';

export interface ServerDeps extends RequestRouteDeps {
  log: pino.Logger;
  bodyLimit: number;
  apiKeys: Pick<ApiKeyService, 'authenticate'>;
  audit: AuditService;
  /** The transparency log: checkpoints, proofs, verification. */
  auditLog: TransparencyLog;
  ready: () => Promise<Record<string, 'ok' | string>>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** Serve only health/readiness/metrics (RUN_MODE=worker). */
  opsOnly?: boolean;
}

export function buildServer(deps: ServerDeps) {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit,
    requestIdHeader: 'x-request-id',
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    genReqId: () => randomUUID(),
    childLoggerFactory: (logger, bindings, opts) => lazyChildLogger(logger as pino.Logger, bindings, opts) as FastifyBaseLogger,
    // Long-polls last up to MAX_WAIT_SECONDS; keep sockets alive a little longer than that.
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the contract and type the handlers; answers are built from typed values, so they are
  // serialised as they are rather than re-validated on every response (which would cost the hot paths CPU).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'route_not_found', message: `No route ${req.method} ${req.url.split('?')[0]}.` } });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks = await deps.ready();
    const ok = Object.values(checks).every((v) => v === 'ok');
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ready' : 'unavailable', checks };
  });
  app.get('/metrics', async (_req, reply) => {
    const m = await deps.metrics();
    void reply.header('content-type', m.contentType);
    return m.body;
  });

  if (!deps.opsOnly) {
    void app.register(async (v1) => {
      v1.decorateRequest('principal');
      v1.addHook('onRequest', authenticateRequest(deps.apiKeys));
      registerRequestRoutes(v1, deps);
      registerAuditRoutes(v1, { audit: deps.audit, log: deps.auditLog });
    });
  }
  return app;
}

export type HttpServer = ReturnType<typeof buildServer>;
