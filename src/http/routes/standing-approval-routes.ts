/** Standing approvals over HTTP: the list, and revocation by an approver of the rule each was granted under. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { identitiesOf } from '../../domain/identity';
import type { StandingApprovalService } from '../../services/standing-approval-service';
import { standingRoutes } from '../contract/contract';
import { fromContract } from './route-options';

export function registerStandingApprovalRoutes(instance: FastifyInstance, deps: { standing: StandingApprovalService }): void {
  const app = instance.withTypeProvider<ZodTypeProvider>();

  app.route({
    ...fromContract(standingRoutes.listStandingApprovals),
    handler: async (req) => ({ items: await deps.standing.list({ all: req.query.all === 'true', limit: req.query.limit }) }),
  });

  app.route({
    ...fromContract(standingRoutes.revokeStandingApproval),
    handler: async (req) => {
      const key = req.principal;
      const approver = req.body?.approver;
      // As with a vote: what the body says about the approver is the integration's claim; the directory decides.
      const presented = { asserted: identitiesOf(approver), ...(approver?.name ? { name: approver.name } : {}) };
      return deps.standing.revoke(
        req.params.id.toLowerCase(),
        { presented, approver: approver ?? {}, channel: 'api', viaKey: { id: key.id, name: key.name, owner: key.owner, attest: key.scopes.includes('attest') } },
        req.body?.reason,
      );
    },
  });
}
