/** `GET /v1/policy`: the version in force on this node, its groups and rules (scope audit or read). */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { PolicyService } from '../../services/policy-service';
import { policyRoutes } from '../contract/contract';
import { fromContract } from './route-options';

export function registerPolicyRoutes(instance: FastifyInstance, deps: { policies: Pick<PolicyService, 'inForce'>; file: string }): void {
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
}
