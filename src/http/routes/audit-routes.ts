/** Audit trail read-out: filtered pages, NDJSON export, and chain verification. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { AuditService } from '../../services/audit-service';
import { auditRoutes } from '../contract/contract';
import { fromContract } from './route-options';

/** Events per page of the NDJSON export's internal paging. */
const EXPORT_PAGE = 1000;

export function registerAuditRoutes(instance: FastifyInstance, deps: { audit: AuditService }): void {
  const app = instance.withTypeProvider<ZodTypeProvider>();

  app.route({
    ...fromContract(auditRoutes.queryAudit),
    handler: async (req, reply) => {
      const { limit, cursor, format, ...filter } = req.query;
      const ndjson = format === 'ndjson' || (!format && /application\/x-ndjson/.test(req.headers.accept ?? ''));
      if (!ndjson) return deps.audit.search(filter, { limit, cursor });

      // Export: stream every matching event, page by page, so memory stays flat however long the trail.
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
      let next: string | undefined = cursor;
      try {
        do {
          const page = await deps.audit.search(filter, { limit: EXPORT_PAGE, cursor: next });
          if (page.items.length) reply.raw.write(page.items.map((e) => JSON.stringify(e)).join('\n') + '\n');
          next = page.nextCursor ?? undefined;
        } while (next && !reply.raw.destroyed);
      } catch (err) {
        req.log.error({ err }, 'audit export failed midway');
        reply.raw.write(JSON.stringify({ error: { code: 'export_interrupted', message: 'The export stopped early; resume with cursor.', cursor: next } }) + '\n');
      }
      reply.raw.end();
      return reply;
    },
  });

  app.route({
    ...fromContract(auditRoutes.verifyAudit),
    handler: async () => deps.audit.verify(),
  });
}
