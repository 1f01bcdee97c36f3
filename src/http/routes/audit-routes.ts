/** Audit trail read-out: filtered pages, NDJSON export, and the transparency log's checkpoints, proofs and verification. */
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { EvidencePackExporter } from '../../evidence/evidence-pack';
import type { TransparencyLog } from '../../evidence/transparency-log';
import type { AuditService } from '../../services/audit-service';
import { auditRoutes } from '../contract/contract';
import { fromContract } from './route-options';

/** Events per page of the NDJSON export's internal paging. */
const EXPORT_PAGE = 1000;

export function registerAuditRoutes(instance: FastifyInstance, deps: { audit: AuditService; log: TransparencyLog; packs: EvidencePackExporter }): void {
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
    handler: async () => deps.log.verify(),
  });

  app.route({
    ...fromContract(auditRoutes.listCheckpoints),
    handler: async (req) => ({ ...(await deps.log.listCheckpoints(req.query)), keys: deps.log.keys() }),
  });

  app.route({
    ...fromContract(auditRoutes.inclusionProof),
    handler: async (req) => deps.log.inclusionProof(req.query.event, req.query.treeSize),
  });

  app.route({
    ...fromContract(auditRoutes.evidencePack),
    handler: async (req, reply) => {
      // Built completely (files on disk, manifest signed) before the first byte is sent, so a failure is a proper error.
      const pack = await deps.packs.build({ since: req.query.since, until: req.query.until ?? new Date() });
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'application/zip', 'content-disposition': `attachment; filename="${pack.fileName}"`, 'cache-control': 'no-store' });
      try {
        await pipeline(pack.zip(), reply.raw);
      } catch (err) {
        // Headers are out: all that can be done is to cut the archive short, which its reader will notice.
        req.log.error({ err }, 'evidence pack download failed midway');
        reply.raw.destroy();
      } finally {
        await pack.dispose();
      }
      return reply;
    },
  });

  app.route({
    ...fromContract(auditRoutes.consistencyProof),
    handler: async (req) => deps.log.consistencyProof(req.query.from, req.query.to),
  });
}
