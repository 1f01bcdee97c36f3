/**
 * `npm run cli -- evidence export --since <time> [--until <time>] [--out <file.zip>]`: writes the evidence pack of a
 * window (src/evidence/evidence-pack.ts) from the database, signed with the service key (the same configuration as
 * the service: DATABASE_URL, SIGNING_KEY_FILE or SIGNING_KEY, PUBLIC_BASE_URL). Times are ISO 8601 or relative to now
 * (`30d`, `12h`, `45m`).
 */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Config } from '../config/config';
import { createEvidence } from '../evidence/evidence';
import { createEvidencePackExporter } from '../evidence/evidence-pack';
import { createAuditService } from '../services/audit-service';
import type { createStore } from '../store/store';

export const EVIDENCE_USAGE = `  npm run cli -- evidence export --since <ISO time | 30d | 12h> [--until <ISO time>] [--out <file.zip>]`;

const UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };

/** An ISO time, or a span before `now` such as `30d`. */
export function parseWhen(text: string, now: Date): Date | null {
  const rel = /^(\d{1,6})([dhm])$/.exec(text);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNITS[rel[2]]);
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : new Date(t);
}

export async function runEvidenceCommand(
  argv: string[],
  ctx: { config: Config; store: ReturnType<typeof createStore>; out: (s: string) => void },
): Promise<number> {
  const { out } = ctx;
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { since: { type: 'string' }, until: { type: 'string' }, out: { type: 'string' } } }));
  } catch (err) {
    out(`${(err as Error).message}\n${EVIDENCE_USAGE}`);
    return 64;
  }
  const now = new Date();
  const since = values.since ? parseWhen(values.since, now) : null;
  const until = values.until ? parseWhen(values.until, now) : now;
  if (positionals[0] !== 'export' || !since || !until) {
    out(`${values.since && !since ? `--since ${values.since}: not an ISO time or a span like 30d\n` : ''}${values.until && !until ? `--until ${values.until}: not an ISO time or a span like 30d\n` : ''}${EVIDENCE_USAGE}`);
    return 64;
  }
  const { config, store } = ctx;
  const baseUrl = (config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, '');
  const evidence = createEvidence({ config, store: store.log, baseUrl, log: pino({ level: 'warn' }, pino.destination(2)) });
  const exporter = createEvidencePackExporter({
    audit: createAuditService({ audit: store.audit }), log: evidence.auditLog, requests: store.requests, policies: store.policies, grants: evidence.grants, issuer: baseUrl,
  });
  const pack = await exporter.build({ since, until });
  const file = values.out ?? pack.fileName;
  try {
    await pipeline(pack.zip(), createWriteStream(file, { flags: 'wx' }));
  } finally {
    await pack.dispose();
  }
  const c = pack.manifest.counts;
  out(`Wrote ${file}: ${c.events} events (${c.sealed} proven in checkpoint ${pack.manifest.checkpoint?.treeSize ?? 0}), ${c.grants} grants, ${c.policies} policy versions.`);
  out(`Verify it offline: npm run cli -- verify pack ${file} --jwks jwks.json   (jwks.json from ${baseUrl}/.well-known/jwks.json)`);
  return 0;
}
