/**
 * Who is calling: the API key behind `Authorization: Bearer …`, typed on every request by declaration merging, and
 * the scope each route requires (declared in the contract, checked here before the body is even read).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../domain/app-error';
import { requireScope, type ApiKeyService, type ApiPrincipal, type Scope } from '../services/api-key-service';
import type { HttpLimits } from './limits';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated API key; set by {@link authenticateRequest} on every `/v1` route. */
    principal: ApiPrincipal;
  }
  interface FastifyContextConfig {
    /** The scope a route requires (from the API contract); with a list, any one of them. */
    scope?: Scope | readonly Scope[];
  }
}

/**
 * An `onRequest` hook: authenticates the key, then checks the route's scope. It runs before the body is parsed, so an
 * unauthenticated or unauthorised caller cannot make us parse (or store) anything, and a missing scope is a 403
 * whatever the body holds.
 */
export function authenticateRequest(apiKeys: Pick<ApiKeyService, 'authenticate' | 'cached'>, throttle?: Pick<HttpLimits, 'refuseThrottled' | 'countFailure'>) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization;
    // A key this node recognised moments ago costs nothing; anything else is first checked against the address's
    // failure count, so guessing keys is throttled before it reaches the database.
    let principal = apiKeys.cached(header);
    if (!principal) {
      await throttle?.refuseThrottled(req);
      try {
        principal = await apiKeys.authenticate(header);
      } catch (err) {
        if (err instanceof AppError && err.code === 'unauthorized') await throttle?.countFailure(req);
        throw err;
      }
    }
    req.principal = principal;
    // Every later line of the request (the completion line included, which Fastify writes with reply.log) names the key.
    req.log = req.log.child({ apiKey: principal.name });
    reply.log = req.log;
    const scope = req.routeOptions.config.scope;
    if (scope) requireScope(req.principal, scope);
  };
}
