/** Audit trail read-out: filtered pages, NDJSON export, and the transparency log's checkpoints, proofs and verification. */
import { pipeline } from 'node:stream/promises';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { EvidencePackExporter } from '../../evidence/evidence-pack';
import type { TransparencyLog } from '../../evidence/transparency-log';
import type { AuditFilter, AuditService } from '../../services/audit-service';
import { auditRoutes } from '../contract/contract';
import { fromContract } from './route-options';

/** Events per page of the NDJSON export's internal paging. */
const EXPORT_PAGE = 1000;

/**
 * Streams every event matching `filter` as NDJSON, page by page, so memory stays flat however long the trail. A failure
 * midway ends the stream with an `export_interrupted` line naming the cursor to resume from.
 */
export async function streamAuditExport(reply: FastifyReply, audit: Pick<AuditService, 'search'>, filter: AuditFilter, cursor: string | undefined, log: FastifyBaseLogger): Promise<void> {
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  let next: string | undefined = cursor;
  try {
    do {
      const page = await audit.search(filter, { limit: EXPORT_PAGE, cursor: next });
      if (page.items.length) reply.raw.write(page.items.map((e) => JSON.stringify(e)).join('\n') + '\n');
      next = page.nextCursor ?? undefined;
    } while (next && !reply.raw.destroyed);
  } catch (err) {
    log.error({ err }, 'audit export failed midway');
    reply.raw.write(JSON.stringify({ error: { code: 'export_interrupted', message: 'The export stopped early; resume with cursor.', cursor: next } }) + '\n');
  }
  reply.raw.end();
}

/**
 * Sends the evidence pack of a window. It is built completely (files on disk, manifest signed) before the first byte
 * is sent, so a failure is a proper error answer.
 */
export async function sendEvidencePack(reply: FastifyReply, packs: EvidencePackExporter, window: { since: Date; until: Date }, log: FastifyBaseLogger): Promise<void> {
  const pack = await packs.build(window);
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'application/zip', 'content-disposition': `attachment; filename="${pack.fileName}"`, 'cache-control': 'no-store' });
  try {
    await pipeline(pack.zip(), reply.raw);
  } catch (err) {
    // Headers are out: all that can be done is to cut the archive short, which its reader will notice.
    log.error({ err }, 'evidence pack download failed midway');
    reply.raw.destroy();
  } finally {
    await pack.dispose();
  }
}

export function registerAuditRoutes(instance: FastifyInstance, deps: { audit: AuditService; log: TransparencyLog; packs: EvidencePackExporter }): void {
  const app = instance.withTypeProvider<ZodTypeProvider>();

  app.route({
    ...fromContract(auditRoutes.queryAudit),
    handler: async (req, reply) => {
      const { limit, cursor, format, ...filter } = req.query;
      const ndjson = format === 'ndjson' || (!format && /application\/x-ndjson/.test(req.headers.accept ?? ''));
      if (!ndjson) return deps.audit.search(filter, { limit, cursor });

      await streamAuditExport(reply, deps.audit, filter, cursor, req.log);
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
      await sendEvidencePack(reply, deps.packs, { since: req.query.since, until: req.query.until ?? new Date() }, req.log);
      return reply;
    },
  });

  app.route({
    ...fromContract(auditRoutes.consistencyProof),
    handler: async (req) => deps.log.consistencyProof(req.query.from, req.query.to),
  });
}
