/**
 * The web console's HTTP surface under /console: sign-in (IdP callback, one-time links), sign-out, and the JSON API the
 * browser front end calls (/console/api/*). Every /console/api route needs a live session cookie; every state-changing
 * one also needs the session's CSRF token in `x-csrf-token` and an `Origin` equal to the service's own. Errors answer
 * `{ code, message, …details }` (the console's contract; /v1 wraps the same in `error`). Static assets and the CSP
 * are served by the front end's module, not here.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../domain/app-error';
import type { ConsoleOidcService } from '../../services/console-oidc-service';
import type { ConsoleRole, ConsoleSessionService, ConsoleUser } from '../../services/console-session-service';
import { toHttpError } from '../error-handler';
import type { HttpLimits } from '../limits';
import { clearLoginCookie, clearSessionCookie, LOGIN_COOKIE, readCookie, SESSION_COOKIE, setLoginCookie, setSessionCookie } from './console-cookies';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in console user; set on every /console route that needs a session. */
    consoleUser: ConsoleUser;
  }
  interface FastifyContextConfig {
    /** Console routes: `auth: 'none'` for the sign-in routes; `role` when the route needs one. */
    console?: { auth?: 'none'; role?: ConsoleRole };
  }
}

export interface ConsoleRouteDeps {
  sessions: ConsoleSessionService;
  /** Absent when no IdP is configured (OIDC_ISSUER unset): sign-in is by one-time link only. */
  oidc?: ConsoleOidcService;
  /** The service's public base URL: its origin is the only one state-changing requests may come from. */
  baseUrl: string;
  cookies: { secure: boolean };
  sessionTtlSeconds: number;
  /** Failed sign-ins (a bad link, a refused callback) count as failed authentications of the address, like bad keys. */
  throttle?: Pick<HttpLimits, 'refuseThrottled' | 'countFailure'>;
}

/** Extra console routes (inbox, requests, audit, …) registered inside the console's scope. */
export type ConsoleRouteModule = (app: FastifyInstance) => void;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Where to go after sign-in: a path of the console only (never another site: no open redirect). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/console(\/[^\\]*)?$/.test(next) && !next.startsWith('//') && !/[\r\n]/.test(next) ? next : '/console/';
}

/** The console's error body: the same stable codes as /v1, flat. */
function consoleErrorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const e = toHttpError(err, req);
  if (e.status >= 500) req.log.error({ err }, 'console request failed');
  else req.log.info({ code: e.code, status: e.status }, e.message);
  if (e.status === 503) void reply.header('retry-after', '2');
  const retryAfter = e.details?.retryAfterSeconds;
  if (e.status === 429 && typeof retryAfter === 'number') void reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
  void reply.status(e.status).send({ code: e.code, message: e.message, ...(e.details ?? {}) });
}

export function registerConsoleRoutes(root: FastifyInstance, deps: ConsoleRouteDeps, modules: readonly ConsoleRouteModule[] = []): void {
  const expectedOrigin = new URL(deps.baseUrl).origin;

  void root.register(async (instance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();
    app.setErrorHandler(consoleErrorHandler);
    app.decorateRequest('consoleUser');
    app.addHook('onRequest', async (req) => {
      const cfg = req.routeOptions.config.console;
      if (cfg?.auth === 'none') return;
      const cookie = readCookie(req, SESSION_COOKIE);
      req.consoleUser = await deps.sessions.authenticate(cookie);
      if (!SAFE_METHODS.has(req.method)) {
        // Two independent guards: the Origin a browser cannot forge, and a token a cross-site page cannot read.
        if (req.headers.origin !== expectedOrigin) throw new AppError('csrf_failed', `State-changing console requests must come from ${expectedOrigin} (header \`Origin\`).`, { field: 'Origin' });
        deps.sessions.checkCsrf(cookie!, typeof req.headers['x-csrf-token'] === 'string' ? req.headers['x-csrf-token'] : undefined);
      }
      if (cfg?.role && !req.consoleUser.roles.includes(cfg.role)) {
        throw cfg.role === 'auditor'
          ? new AppError('not_an_auditor', 'Only auditors (members of CONSOLE_AUDITOR_GROUPS) may do this.')
          : new AppError('forbidden', `Only ${cfg.role}s may do this.`);
      }
    });
    app.addHook('onSend', async (_req, reply) => {
      // Answers carry personal data and tokens: never cached by the browser or a proxy.
      if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
      if (!reply.hasHeader('x-content-type-options')) void reply.header('x-content-type-options', 'nosniff');
    });

    /** Runs a sign-in step, refused while the address is throttled, counting its failure. */
    const attempt = async <T>(req: FastifyRequest, step: () => Promise<T>): Promise<T> => {
      await deps.throttle?.refuseThrottled(req);
      try {
        return await step();
      } catch (err) {
        if (err instanceof AppError && (err.code === 'link_invalid' || err.code === 'sign_in_failed')) await deps.throttle?.countFailure(req);
        throw err;
      }
    };

    const signedIn = async (req: FastifyRequest, reply: FastifyReply, cookie: string) => {
      // A new sign-in replaces the browser's previous session (a step-up, another person on a shared machine).
      await deps.sessions.signOut(readCookie(req, SESSION_COOKIE), 'replaced');
      setSessionCookie(reply, cookie, deps.sessionTtlSeconds, deps.cookies);
    };

    app.get('/console/login', {
      config: { console: { auth: 'none' } },
      schema: { hide: true, querystring: z.object({ next: z.string().max(2000).optional(), stepUp: z.enum(['1', 'true']).optional() }) },
    }, async (req, reply) => {
      if (!deps.oidc) throw new AppError('oidc_not_configured', 'No identity provider is configured (OIDC_ISSUER); ask an administrator for a one-time sign-in link.');
      const { location, loginToken } = await deps.oidc.start({ next: safeNext(req.query.next), stepUp: Boolean(req.query.stepUp) });
      setLoginCookie(reply, loginToken, deps.cookies);
      return reply.redirect(location, 302);
    });

    app.get('/console/callback', {
      config: { console: { auth: 'none' } },
      schema: { hide: true },
    }, async (req, reply) => {
      if (!deps.oidc) throw new AppError('oidc_not_configured', 'No identity provider is configured (OIDC_ISSUER).');
      const query = req.query as Record<string, unknown>;
      clearLoginCookie(reply, deps.cookies);
      if (typeof query.error === 'string') {
        throw new AppError('sign_in_failed', `The identity provider refused the sign-in: ${query.error}${typeof query.error_description === 'string' ? ` (${query.error_description})` : ''}.`);
      }
      const oidc = deps.oidc;
      const { claims, next } = await attempt(req, () => oidc.finish(new URL(req.url, 'http://callback.invalid').search, readCookie(req, LOGIN_COOKIE)));
      const { cookie } = await deps.sessions.signInWithIdp(claims);
      await signedIn(req, reply, cookie);
      return reply.redirect(next, 302);
    });

    app.get('/console/link/:token', {
      config: { console: { auth: 'none' } },
      // Any text: the service refuses what is not one of its tokens (link_invalid), without a schema error.
      schema: { hide: true, params: z.object({ token: z.string() }) },
    }, async (req, reply) => {
      const { cookie } = await attempt(req, () => deps.sessions.signInWithLink(req.params.token));
      await signedIn(req, reply, cookie);
      return reply.redirect('/console/', 302);
    });

    app.post('/console/logout', { schema: { hide: true } }, async (req, reply) => {
      await deps.sessions.signOut(readCookie(req, SESSION_COOKIE), 'sign-out');
      clearSessionCookie(reply, deps.cookies);
      return reply.status(204).send();
    });

    // Before sign-in the page needs to know which sign-in to offer.
    app.get('/console/api/sign-in', { config: { console: { auth: 'none' } }, schema: { hide: true } }, async () => ({
      idp: Boolean(deps.oidc),
      loginUrl: deps.oidc ? '/console/login' : null,
    }));

    app.get('/console/api/session', { schema: { hide: true } }, async (req) => {
      const u = req.consoleUser;
      return { person: u.person, roles: u.roles, csrfToken: u.csrfToken, signIn: u.session.signIn, authTime: u.session.authTime.toISOString(), expiresAt: u.session.expiresAt.toISOString() };
    });

    for (const register of modules) register(app);
  });
}
