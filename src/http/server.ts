/**
 * The HTTP layer: the Fastify server, its routes (declared from the API contract in src/http/contract/), API-key
 * authentication, the one error mapper, and the operational endpoints. Whatever chat adapters mount shares this
 * server. HTTP statuses exist only in this folder.
 */
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type pino from 'pino';
import type { ApiKeyService } from '../services/api-key-service';
import type { TransparencyLog } from '../evidence/transparency-log';
import type { AuditService } from '../services/audit-service';
import { lazyChildLogger } from '../observability/logger';
import type { z } from 'zod';
import { storable } from './contract/common-schemas';
import { errorHandler } from './error-handler';
import { registerLimits, type LimitSettings } from './limits';
import { registerOpenApi } from './openapi';
import { ProbeQuietLogController, requestIdOf } from './request-log';
import { authenticateRequest } from './principal';
import type { Jwks } from '../evidence/grants';
import type { DirectoryService } from '../services/directory-service';
import type { GrantService } from '../services/grant-service';
import type { EvidencePackExporter } from '../evidence/evidence-pack';
import { registerMcpRoute } from '../mcp/mcp-http';
import { registerAuditRoutes } from './routes/audit-routes';
import { registerConsoleRoutes, type ConsoleRouteDeps, type ConsoleRouteModule } from './routes/console-routes';
import { registerConsoleStaticRoutes } from './routes/console-static-routes';
import { registerGrantRoutes } from './routes/grant-routes';
import { registerLineageRoutes } from './routes/lineage-routes';
import type { LineageService } from '../services/lineage-service';
import { registerPeopleRoutes } from './routes/people-routes';
import { registerPolicyRoutes } from './routes/policy-routes';
import type { PolicyService } from '../services/policy-service';
import { registerRequestRoutes, type RequestRouteDeps } from './routes/request-routes';
import { registerStandingApprovalRoutes } from './routes/standing-approval-routes';
import type { StandingApprovalService } from '../services/standing-approval-service';

export interface ServerDeps extends Omit<RequestRouteDeps, 'limits'> {
  log: pino.Logger;
  /** Rate-limit settings (Redis-backed, shared by every node). */
  limits: Omit<LimitSettings, 'redis' | 'prefix'> & { redis: LimitSettings['redis']; prefix: string };
  bodyLimit: number;
  apiKeys: Pick<ApiKeyService, 'authenticate' | 'cached'>;
  audit: AuditService;
  directory: DirectoryService;
  grants: GrantService;
  /** The policy in force (GET /v1/policy, POST /v1/policy/evaluate). */
  policies: Pick<PolicyService, 'inForce' | 'current'>;
  /** The policy file's path, as GET /v1/policy names it. */
  policyFile: string;
  standing: StandingApprovalService;
  /** The public keys that verify grants and signed callbacks. */
  jwks: () => Jwks;
  /** The transparency log: checkpoints, proofs, verification. */
  auditLog: TransparencyLog;
  packs: EvidencePackExporter;
  ready: () => Promise<Record<string, 'ok' | string>>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  lineage: LineageService;
  /** The web console (/console), when CONSOLE_ENABLED. */
  console?: { routes: ConsoleRouteDeps; modules: readonly ConsoleRouteModule[] };
  /** Serve only health/readiness/metrics (RUN_MODE=worker). */
  opsOnly?: boolean;
}

export async function buildServer(deps: ServerDeps) {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit,
    // The id comes from requestIdOf (validated), never straight from the header.
    requestIdHeader: false,
    logController: new ProbeQuietLogController({ requestIdLogLabel: 'requestId' }),
    genReqId: requestIdOf,
    childLoggerFactory: (logger, bindings, opts) => lazyChildLogger(logger as pino.Logger, bindings, opts) as FastifyBaseLogger,
    // Long-polls last up to MAX_WAIT_SECONDS; keep sockets alive a little longer than that.
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    // Errors Fastify raises before routing (a path that is not valid UTF-8) answer like every other error.
    frameworkErrors: (err, req, reply) => errorHandler(err, req, reply),
  }).withTypeProvider<ZodTypeProvider>();
  // Every schema refuses text PostgreSQL cannot store before anything else (common-schemas.ts, storable).
  app.setValidatorCompiler(({ schema, ...route }) => validatorCompiler({ ...route, schema: storable(schema as z.ZodType) }));
  // Response schemas document the contract and type the handlers; answers are built from typed values, so they are
  // serialised as they are rather than re-validated on every response (which would cost the hot paths CPU).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.setErrorHandler(errorHandler);
  // While shutting down, every answer (long-polls released by the shutdown above all) closes its connection: a
  // keep-alive socket left open would hold server.close() for the whole keep-alive timeout.
  app.addHook('onSend', async (req, reply) => {
    // Echoed so a caller can quote it (or find its own id) when asking about a request.
    void reply.header('x-request-id', req.id);
    if (deps.shutdown.aborted) void reply.header('connection', 'close');
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'route_not_found', message: `No route ${req.method} ${req.url.split('?')[0]}.` } });
  });

  // Before any route: the document is collected as routes are declared.
  if (!deps.opsOnly) await registerOpenApi(app);

  const probe = { config: { probe: true } };
  app.get('/healthz', probe, async () => ({ status: 'ok' }));
  // Public by design: whoever executes an approved action verifies its grant (and callbacks their signature) offline.
  app.get('/.well-known/jwks.json', async (_req, reply) => {
    void reply.header('cache-control', 'public, max-age=300');
    return deps.jwks();
  });
  app.get('/readyz', probe, async (_req, reply) => {
    const checks = await deps.ready();
    const ok = Object.values(checks).every((v) => v === 'ok');
    void reply.status(ok ? 200 : 503);
    return { status: ok ? 'ready' : 'unavailable', checks };
  });
  app.get('/metrics', probe, async (_req, reply) => {
    const m = await deps.metrics();
    void reply.header('content-type', m.contentType);
    return m.body;
  });

  if (!deps.opsOnly) {
    const limits = await registerLimits(app, deps.limits);
    void app.register(async (v1) => {
      v1.decorateRequest('principal');
      v1.addHook('onRequest', authenticateRequest(deps.apiKeys, limits));
      registerRequestRoutes(v1, { ...deps, limits });
      registerAuditRoutes(v1, { audit: deps.audit, log: deps.auditLog, packs: deps.packs });
      registerPeopleRoutes(v1, { directory: deps.directory });
      registerGrantRoutes(v1, { grants: deps.grants });
      registerPolicyRoutes(v1, { policies: deps.policies, file: deps.policyFile, directory: () => deps.directory.current() });
      registerStandingApprovalRoutes(v1, { standing: deps.standing });
      registerLineageRoutes(v1, { lineage: deps.lineage });
      // Countersign as an MCP server (Streamable HTTP), authenticated like the API it calls.
      registerMcpRoute(v1, { shutdown: deps.shutdown, maxWaitSeconds: Math.min(50, deps.maxWaitSeconds) });
    });
    if (deps.console) registerConsoleRoutes(app, { ...deps.console.routes, throttle: limits }, deps.console.modules);
    // The web console's page, bundle and security headers on every /console answer (its API is the line above).
    if (deps.console) registerConsoleStaticRoutes(app);
  }
  return app;
}

export type HttpServer = Awaited<ReturnType<typeof buildServer>>;
