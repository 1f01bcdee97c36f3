/** Audit trail read-out: filtered pages, NDJSON export, and chain verification. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requireScope, type ApiPrincipal } from '../../services/api-key-service';
import type { AuditService } from '../../services/audit-service';
import { parseInput } from '../error-handler';

const auditQuery = z
  .object({
    requestId: z.string().uuid().optional(),
    requester: z.string().min(1).optional(),
    approver: z.string().min(1).optional(),
    action: z.string().min(1).optional(),
    resource: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    since: z.coerce.date().optional(),
    until: z.coerce.date().optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().min(1).optional(),
    format: z.enum(['json', 'ndjson']).optional(),
  })
  .strict();

export function registerAuditRoutes(app: FastifyInstance, deps: { audit: AuditService }): void {
  app.get('/v1/audit', async (req, reply) => {
    requireScope((req as FastifyRequest & { principal: ApiPrincipal }).principal, 'audit');
    const { limit, cursor, format, ...filter } = parseInput(auditQuery, req.query);
    const ndjson = format === 'ndjson' || (!format && /application\/x-ndjson/.test(req.headers.accept ?? ''));
    if (!ndjson) return deps.audit.query(filter, { limit, cursor });

    // Export: stream every matching event, page by page, so memory stays flat however long the trail.
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    let next: string | undefined = cursor;
    try {
      do {
        const page = await deps.audit.query(filter, { limit: 1000, cursor: next });
        if (page.items.length) reply.raw.write(page.items.map((e) => JSON.stringify(e)).join('\n') + '\n');
        next = page.nextCursor ?? undefined;
      } while (next && !reply.raw.destroyed);
    } catch (err) {
      req.log.error({ err }, 'audit export failed midway');
      reply.raw.write(JSON.stringify({ error: { code: 'export_interrupted', message: 'The export stopped early; resume with cursor.', cursor: next } }) + '\n');
    }
    reply.raw.end();
    return reply;
  });

  app.get('/v1/audit/verify', async (req) => {
    requireScope((req as FastifyRequest & { principal: ApiPrincipal }).principal, 'audit');
    return deps.audit.verify();
  });
}
