/** Approval grants over HTTP: recording a grant's single use (and the JWKS, mounted publicly by the server). */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { GrantService } from '../../services/grant-service';
import { grantRoutes } from '../contract/contract';
import { fromContract } from './route-options';

export function registerGrantRoutes(instance: FastifyInstance, deps: { grants: GrantService }): void {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  app.route({
    ...fromContract(grantRoutes.useGrant),
    handler: async (req, reply) => {
      const use = await deps.grants.use(req.body.grant, req.principal);
      void reply.status(201);
      return { requestId: use.requestId, usedAt: use.usedAt.toISOString(), key: use.keyName };
    },
  });
}
