/**
 * The Fastify server: API routes behind API-key authentication, operational endpoints, and whatever chat adapters
 * mount. Authentication runs in `onRequest`, before the body is read, so an unauthenticated caller cannot make us
 * parse (or store) anything.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyRequest } from 'fastify';
import type pino from 'pino';
import type { ApiKeyService } from '../services/api-key-service';
import type { AuditService } from '../services/audit-service';
import { errorHandler } from './error-handler';
import { registerAuditRoutes } from './routes/audit-routes';
import { registerRequestRoutes, type RequestRouteDeps } from './routes/request-routes';

export interface ServerDeps extends RequestRouteDeps {
  log: pino.Logger;
  bodyLimit: number;
  apiKeys: Pick<ApiKeyService, 'authenticate'>;
  audit: AuditService;
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
    // Long-polls last up to MAX_WAIT_SECONDS; keep sockets alive a little longer than that.
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
  });
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
      v1.decorateRequest('principal', null);
      v1.addHook('onRequest', async (req: FastifyRequest) => {
        (req as FastifyRequest & { principal: unknown }).principal = await deps.apiKeys.authenticate(req.headers.authorization);
      });
      registerRequestRoutes(v1, deps);
      registerAuditRoutes(v1, { audit: deps.audit });
    });
  }
  return app;
}
