/**
 * The policy through the API: `GET /v1/policy`, the version in force on this node, its groups and rules (scope audit or
 * read); `POST /v1/policy/evaluate`, what it would decide for a sample request, submitting nothing (scope audit).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Directory } from '../../domain/people';
import { evaluatePolicySample } from '../../domain/policy-sample';
import type { PolicyService } from '../../services/policy-service';
import { policyRoutes } from '../contract/contract';
import { fromContract } from './route-options';

export function registerPolicyRoutes(instance: FastifyInstance, deps: { policies: Pick<PolicyService, 'inForce' | 'current'>; file: string; directory: () => Directory }): void {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  app.route({
    ...fromContract(policyRoutes.getPolicy),
    handler: async () => {
      const { policy, activatedAt, source } = await deps.policies.inForce();
      return {
        hash: policy.hash,
        activatedAt: activatedAt.toISOString(),
        source,
        file: deps.file,
        missingRisk: policy.missingRisk,
        groups: policy.groups,
        rules: policy.rules,
      };
    },
  });

  app.route({
    ...fromContract(policyRoutes.evaluatePolicy),
    handler: async (req) => evaluatePolicySample(deps.policies.current(), deps.directory(), req.body),
  });
}
