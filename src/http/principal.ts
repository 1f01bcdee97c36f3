/**
 * Who is calling: the API key behind `Authorization: Bearer …`, typed on every request by declaration merging, and
 * the scope each route requires (declared in the contract, checked here before the body is even read).
 */
import type { FastifyRequest } from 'fastify';
import { requireScope, type ApiKeyService, type ApiPrincipal, type Scope } from '../services/api-key-service';

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
export function authenticateRequest(apiKeys: Pick<ApiKeyService, 'authenticate'>) {
  return async (req: FastifyRequest): Promise<void> => {
    req.principal = await apiKeys.authenticate(req.headers.authorization);
    const scope = req.routeOptions.config.scope;
    if (scope) requireScope(req.principal, scope);
  };
}
