/** The lineage of an agent run (`GET /v1/lineage`). */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { LineageService } from '../../services/lineage-service';
import { seesAllRequests } from '../../services/request-query-service';
import { lineageRoutes } from '../contract/contract';
import { fromContract } from './route-options';

export function registerLineageRoutes(instance: FastifyInstance, deps: { lineage: LineageService }): void {
  const app = instance.withTypeProvider<ZodTypeProvider>();

  app.route({
    ...fromContract(lineageRoutes.getLineage),
    handler: async (req) => {
      const key = req.principal;
      // The same rule as GET /v1/requests/:id: a key without decide/attest/audit sees only what it submitted.
      const all = seesAllRequests(key);
      return deps.lineage.lineage({ traceId: req.query.traceId, requestId: req.query.requestId?.toLowerCase() }, (r) => all || r.apiKeyName === key.name);
    },
  });
}
