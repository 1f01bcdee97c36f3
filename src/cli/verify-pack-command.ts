/**
 * `npm run cli -- verify pack <pack.zip> [--jwks <jwks.json>] [--json]`: checks an evidence pack offline (no service, no
 * database, no network) and says in plain words what holds and the first thing that does not. Exit 0 when every check
 * passes, 1 when one fails, 64 on bad usage, 66 when an input cannot be read.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyEvidencePack } from '../evidence/evidence-pack-verifier';
import type { Jwks } from '../evidence/grants';
import { PackArchiveError, readPackArchive } from '../evidence/pack-archive';

export const VERIFY_PACK_USAGE = `  npm run cli -- verify pack <pack.zip> [--jwks <jwks.json saved from /.well-known/jwks.json>] [--json]`;

export async function runVerifyPackCommand(argv: string[], out: (s: string) => void): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { jwks: { type: 'string' }, json: { type: 'boolean' } } }));
  } catch (err) {
    out(`${(err as Error).message}\n${VERIFY_PACK_USAGE}`);
    return 64;
  }
  if (positionals.length !== 1) {
    out(VERIFY_PACK_USAGE);
    return 64;
  }
  let files;
  let trusted: Jwks | undefined;
  try {
    files = await readPackArchive(readFileSync(positionals[0]));
    if (values.jwks) trusted = JSON.parse(readFileSync(values.jwks, 'utf8')) as Jwks;
  } catch (err) {
    out(`cannot read the inputs: ${(err as Error).message}`);
    return err instanceof PackArchiveError ? 1 : 66;
  }
  const result = await verifyEvidencePack(files, trusted);
  if (values.json) {
    out(JSON.stringify(result, null, 2));
    return result.ok ? 0 : 1;
  }
  const m = result.manifest;
  out(result.ok ? 'OK: the evidence pack is intact and every record in it is proven.' : 'FAILED: the evidence pack does not hold.');
  if (m) out(`  ${m.issuer}, window ${m.window.since} to ${m.window.until}, exported ${m.exportedAt}`);
  for (const c of result.checks) out(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`);
  if (result.trust === 'pack') {
    out(`  note: checked against the keys inside the pack (${result.keyIds.join(', ')}); pass --jwks with the keys the service publishes to rule out a forged pack.`);
  }
  return result.ok ? 0 : 1;
}
