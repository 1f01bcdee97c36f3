/**
 * The console's lineage and policy pages: the graph of an agent run (the same body as GET /v1/lineage, limited to the
 * requests the person may see), the policy in force in readable form, and trying it on a sample (auditors).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Directory } from '../../domain/people';
import type { Policy } from '../../domain/policy';
import { evaluatePolicySample } from '../../domain/policy-sample';
import { consoleMaySee } from '../../services/console-request-service';
import type { LineageService } from '../../services/lineage-service';
import { evaluateBody, lineageQuery } from '../contract/contract';
import type { ConsoleRouteModule } from './console-routes';

export function consoleLineageRoutes(deps: { lineage: LineageService; policy: () => Policy; directory: () => Directory }): ConsoleRouteModule {
  return (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();

    app.get('/console/api/lineage', { schema: { hide: true, querystring: lineageQuery } }, async (req) =>
      deps.lineage.lineage({ traceId: req.query.traceId, requestId: req.query.requestId?.toLowerCase() }, (r) => consoleMaySee(req.consoleUser, r)),
    );

    app.get('/console/api/policy', { schema: { hide: true } }, async () => {
      const policy = deps.policy();
      const directory = deps.directory();
      const name = (id: string) => directory.person(id)?.name ?? id;
      return {
        hash: policy.hash,
        missingRisk: policy.missingRisk,
        linkByEmail: policy.linkByEmail,
        groups: Object.entries(policy.groups).map(([group, refs]) => ({ name: group, members: directory.members(refs).map((id) => ({ id, name: name(id) })) })),
        // Names only: the identities behind them (emails, chat ids) are the directory's business, not every approver's.
        people: directory.list().filter((p) => p.source !== 'implicit').map((p) => ({ id: p.id, name: p.name ?? p.id })),
        rules: policy.rules,
      };
    });

    app.post('/console/api/policy/evaluate', { config: { console: { role: 'auditor' } }, schema: { hide: true, body: evaluateBody } }, async (req) =>
      evaluatePolicySample(deps.policy(), deps.directory(), req.body),
    );
  };
}
