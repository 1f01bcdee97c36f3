/**
 * The console's audit pages, for auditors only: the trail (same filters and body as GET /v1/audit), its NDJSON export,
 * the evidence pack of a window, and the transparency log's verification told in plain words.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { EvidencePackExporter } from '../../evidence/evidence-pack';
import type { TransparencyLog } from '../../evidence/transparency-log';
import type { AuditService } from '../../services/audit-service';
import { plainVerification } from '../../services/console-verification';
import { auditQuery, evidenceQuery } from '../contract/contract';
import { sendEvidencePack, streamAuditExport } from './audit-routes';
import type { ConsoleRouteModule } from './console-routes';

const auditors = { console: { role: 'auditor' as const } };

export function consoleAuditRoutes(deps: { audit: AuditService; log: Pick<TransparencyLog, 'verify'>; packs: EvidencePackExporter }): ConsoleRouteModule {
  return (instance: FastifyInstance) => {
    const app = instance.withTypeProvider<ZodTypeProvider>();

    app.get('/console/api/audit', { config: auditors, schema: { hide: true, querystring: auditQuery.omit({ format: true }) } }, async (req) => {
      const { limit, cursor, ...filter } = req.query;
      return deps.audit.search(filter, { limit, cursor });
    });

    app.get('/console/api/audit.ndjson', { config: auditors, schema: { hide: true, querystring: auditQuery.omit({ format: true, limit: true }) } }, async (req, reply) => {
      const { cursor, ...filter } = req.query;
      await streamAuditExport(reply, deps.audit, filter, cursor, req.log);
      return reply;
    });

    app.get('/console/api/evidence', { config: auditors, schema: { hide: true, querystring: evidenceQuery } }, async (req, reply) => {
      await sendEvidencePack(reply, deps.packs, { since: req.query.since, until: req.query.until ?? new Date() }, req.log);
      return reply;
    });

    app.post('/console/api/verify', { config: auditors, schema: { hide: true } }, async () => plainVerification(await deps.log.verify()));
  };
}
