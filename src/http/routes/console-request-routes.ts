/**
 * The console's requests: the inbox (keyset pages), its live updates (server-sent events fed by the Redis request
 * events every node publishes), a request's page, and deciding in the browser (channel `web`).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RISKS } from '../../domain/policy';
import type { RequestEvents } from '../../ports/job-queue';
import type { ConsoleRequestService } from '../../services/console-request-service';
import type { ConsoleSessionService } from '../../services/console-session-service';
import { readCookie, SESSION_COOKIE } from './console-cookies';
import type { ConsoleRouteModule } from './console-routes';

/** Comment lines keep proxies and browsers from timing the stream out. */
const HEARTBEAT_MS = 15_000;

export function consoleRequestRoutes(deps: {
  requests: ConsoleRequestService;
  /** A stream lives as long as its session: signed out elsewhere, it ends at the next change or heartbeat. */
  sessions: Pick<ConsoleSessionService, 'authenticate'>;
  events: Pick<RequestEvents, 'watchAll'>;
  /** Aborted on shutdown: open streams end so the server can close. */
  shutdown: AbortSignal;
}): ConsoleRouteModule {
  return (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();

    app.get('/console/api/inbox', {
      schema: {
        hide: true,
        querystring: z.object({
          limit: z.coerce.number().int().min(1).max(100).default(25),
          cursor: z.string().max(200).optional(),
          action: z.string().min(1).max(200).optional(),
          risk: z.enum(RISKS).optional(),
          environment: z.string().min(1).max(200).optional(),
          q: z.string().min(1).max(200).optional(),
        }),
      },
    }, async (req) => {
      const { limit, cursor, q, ...filter } = req.query;
      return deps.requests.inbox(req.consoleUser, { ...filter, text: q }, { limit, cursor });
    });

    app.get('/console/api/history', {
      schema: { hide: true, querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(25), cursor: z.string().max(200).optional() }) },
    }, async (req) => deps.requests.history(req.consoleUser, req.query));

    app.get('/console/api/inbox/stream', { schema: { hide: true } }, async (req, reply) => {
      const user = req.consoleUser;
      const cookie = readCookie(req, SESSION_COOKIE);
      const live = () => deps.sessions.authenticate(cookie).then((u) => u.session.id === user.session.id, () => false);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write('retry: 5000\n\n');
      const send = (event: string, data: unknown) => {
        if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      // Changes of one request are applied in order: a slower read of an older change must not overwrite a newer one.
      const chains = new Map<string, Promise<void>>();
      const onChange = (id: string) => {
        const run = async () => {
          try {
            if (!(await live())) return stop();
            const r = await deps.requests.get(user, id);
            if (!deps.requests.concerns(user, r)) return;
            if (deps.requests.inInbox(user, r)) send('upsert', r);
            else send('remove', { id: r.id });
          } catch (err) {
            // Not visible to this person (404) or a failed read: say nothing; the client re-reads the inbox on reconnect.
            if ((err as { code?: string }).code !== 'not_found') req.log.warn({ err, requestId: id }, 'console stream could not read a changed request');
          }
        };
        const next = (chains.get(id) ?? Promise.resolve()).then(run);
        chains.set(id, next);
        void next.finally(() => {
          if (chains.get(id) === next) chains.delete(id);
        });
      };
      const unwatch = deps.events.watchAll(onChange);
      const heartbeat = setInterval(() => {
        void live().then((ok) => (ok ? !res.destroyed && res.write(': ping\n\n') : stop()));
      }, HEARTBEAT_MS);
      // The stream ends with the session: the browser reconnects and is asked to sign in again.
      const sessionEnd = setTimeout(() => stop(), Math.max(0, user.session.expiresAt.getTime() - Date.now()));
      const stop = () => {
        unwatch();
        clearInterval(heartbeat);
        clearTimeout(sessionEnd);
        deps.shutdown.removeEventListener('abort', stop);
        if (!res.destroyed) res.end();
      };
      deps.shutdown.addEventListener('abort', stop, { once: true });
      res.on('close', stop);
    });

    app.get('/console/api/requests/:id', {
      schema: { hide: true, params: z.object({ id: z.string().max(100) }) },
    }, async (req) => deps.requests.page(req.consoleUser, req.params.id));

    app.post('/console/api/requests/:id/decisions', {
      schema: {
        hide: true,
        params: z.object({ id: z.string().max(100) }),
        body: z.object({ decision: z.enum(['approve', 'deny']), reason: z.string().max(2000).optional() }).strict(),
      },
    }, async (req, reply) => {
      const updated = await deps.requests.decide(req.consoleUser, req.params.id, req.body);
      void reply.status(201);
      return updated;
    });
  };
}
