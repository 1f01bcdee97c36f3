/** The lineage of an agent run (`GET /v1/lineage`) and trying the live policy (`POST /v1/policy/evaluate`). */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Directory } from '../../domain/people';
import type { Policy } from '../../domain/policy';
import { evaluatePolicySample } from '../../domain/policy-sample';
import type { LineageService } from '../../services/lineage-service';
import { seesAllRequests } from '../../services/request-query-service';
import { lineageRoutes, policyRoutes } from '../contract/contract';
import { fromContract } from './route-options';

export function registerLineageRoutes(instance: FastifyInstance, deps: { lineage: LineageService; policy: () => Policy; directory: () => Directory }): void {
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

  app.route({
    ...fromContract(policyRoutes.evaluatePolicy),
    handler: async (req) => evaluatePolicySample(deps.policy(), deps.directory(), req.body),
  });
}
