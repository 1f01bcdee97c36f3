/**
 * The console's standing approvals: the active ones the signed-in person may see (those of rules they approve; auditors
 * every one) and revocation as that person (channel `web`) through the same service, and the same refusals, as the API.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { standingIdParams } from '../contract/standing-approvals-contract';
import type { DirectoryService } from '../../services/directory-service';
import type { StandingApprovalService } from '../../services/standing-approval-service';
import type { ConsoleRouteModule } from './console-routes';

export function consoleStandingRoutes(deps: {
  standing: Pick<StandingApprovalService, 'listFor' | 'revoke'>;
  directory: Pick<DirectoryService, 'current'>;
}): ConsoleRouteModule {
  return (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();

    app.get('/console/api/standing-approvals', {
      schema: { hide: true, querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(100) }) },
    }, async (req) => {
      const user = req.consoleUser;
      return { items: await deps.standing.listFor(user.person.id, { everyone: user.roles.includes('auditor'), limit: req.query.limit }) };
    });

    app.post('/console/api/standing-approvals/:id/revoke', {
      schema: {
        hide: true,
        // The API's own id schema: a malformed id answers 404 like an unknown one, as on /v1.
        params: standingIdParams,
        body: z.object({ reason: z.string().max(2000).optional() }).strict().optional(),
      },
    }, async (req) => {
      const user = req.consoleUser;
      // The session authenticated the person: recorded with their directory name and email, as a web vote is.
      const email = deps.directory.current().person(user.person.id)?.identities.find((l) => l.identity.kind === 'email')?.identity.value;
      return deps.standing.revoke(
        req.params.id.toLowerCase(),
        { presented: { name: user.person.name }, person: user.person.id, approver: { name: user.person.name, ...(email ? { email } : {}) }, channel: 'web' },
        req.body?.reason,
      );
    });
  };
}
