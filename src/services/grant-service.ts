/**
 * Using an approval grant: the system that runs an approved action presents the grant once. The service checks the
 * signature and the execution window, that the presenting key may use it (the submitting key, or an `execute` key),
 * and records the single use with its audit event; a second use is refused. The agent's outcome report then closes the
 * request's lineage (submitted → decided → grant used → outcome).
 */
import { AppError, requestNotFound } from '../domain/app-error';
import type { GrantAuthority } from '../evidence/grants';
import type { RequestStore } from '../store/request-store';
import type { ApiPrincipal } from './api-key-service';

export interface GrantService {
  /**
   * Records the single use of `grant` by `principal`.
   * @throws AppError `invalid_grant`, `grant_expired`, `forbidden` (neither the submitting key nor an `execute` key),
   *   `not_found`, or `grant_already_used`.
   */
  use(grant: string, principal: ApiPrincipal): Promise<{ requestId: string; usedAt: Date; keyName: string }>;
}

export function createGrantService(deps: {
  grants: Pick<GrantAuthority, 'verify'>;
  requests: Pick<RequestStore, 'get' | 'recordGrantUse'>;
  clock?: () => Date;
}): GrantService {
  const clock = deps.clock ?? (() => new Date());
  return {
    async use(grant, principal) {
      const now = clock();
      const claims = await deps.grants.verify(grant, now);
      const request = await deps.requests.get(claims.jti);
      if (!request) throw requestNotFound(claims.jti);
      const mayUse = principal.scopes.includes('execute') || (principal.scopes.includes('submit') && principal.id === request.apiKeyId);
      if (!mayUse) throw new AppError('forbidden', 'Only the key that submitted the request, or a key with the `execute` scope, may use its grant.');
      // A grant only exists for an approved request; the signature proves it was issued, the status that it still stands.
      if (request.status !== 'approved') throw new AppError('invalid_grant', `Invalid field \`grant\`: the request is ${request.status}.`, { field: 'grant' });
      const recorded = await deps.requests.recordGrantUse({ requestId: request.id, at: now, keyId: principal.id, keyName: principal.name }, [
        {
          type: 'grant.used',
          requestId: request.id,
          actor: { key: `key:${principal.name}`, ids: principal.owner ? [principal.owner] : [] },
          channel: 'api',
          at: now,
          data: { key: principal.name, hash: claims.cs_hash, approvers: claims.cs_approvers, expiresAt: new Date(claims.exp * 1000).toISOString() },
        },
      ]);
      if (!recorded) {
        const used = (await deps.requests.get(request.id))?.grantUse;
        throw new AppError('grant_already_used', `This grant was already used${used ? ` at ${used.usedAt.toISOString()} by key ${used.keyName}` : ''}; a grant is good for one execution.`, { requestId: request.id });
      }
      return { requestId: request.id, usedAt: now, keyName: principal.name };
    },
  };
}
