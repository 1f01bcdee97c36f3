/**
 * `npm run cli -- verify --events <export.ndjson> --checkpoints <dir or file> --key <verifier key | PEM file | base64>`:
 * checks an audit export against the published checkpoints and the log's public key, offline: no service, no
 * database, no network. It names the first event that does not match. Exit code 0 when the export rebuilds every
 * checkpoint, 1 when it does not, 64 on bad usage, 66 when an input cannot be read.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseCheckpoint } from '../domain/checkpoint';
import { verifyExport, type ExportedEvent, type LogVerification } from '../domain/log-verification';
import { ed25519RawPublicKey, noteKeyId, parseNote, parseVerifierKey, type NoteVerifier } from '../domain/signed-note';

export const VERIFY_USAGE = `  npm run cli -- verify --events <export.ndjson> --checkpoints <dir|file> --key <verifier key|public key PEM file|base64 key> [--key …] [--json]`;

class InputError extends Error {}

/** Reads an NDJSON export (`GET /v1/audit?format=ndjson`): one event per line; a trailing error line means it was cut short. */
export function readExport(text: string): ExportedEvent[] {
  const events: ExportedEvent[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new InputError(`line ${i + 1} of the export is not JSON`);
    }
    if (row.error) throw new InputError(`the export was cut short at line ${i + 1} (${JSON.stringify(row.error)}): export again`);
    if (typeof row.seq !== 'string' || typeof row.payload !== 'string') throw new InputError(`line ${i + 1} of the export has no seq or payload`);
    events.push({
      seq: row.seq,
      payload: row.payload,
      leafIndex: typeof row.leafIndex === 'string' ? row.leafIndex : null,
      leafHash: typeof row.leafHash === 'string' ? row.leafHash : null,
    });
  }
  return events;
}

/** The signed notes in a directory of `<size>.checkpoint` files (the file sink's layout), or one such file. */
export function readCheckpoints(where: string): string[] {
  if (!existsSync(where)) throw new InputError(`${where} does not exist`);
  if (!statSync(where).isDirectory()) return [readFileSync(where, 'utf8')];
  return readdirSync(where)
    .filter((n) => n.endsWith('.checkpoint'))
    .map((n) => readFileSync(path.join(where, n), 'utf8'));
}

/**
 * A trusted key: a verifier key string (`name+id+base64`), a file holding a public key PEM, or a base64 raw 32-byte
 * key. A bare key gets the log's origin (from the checkpoints) as its name.
 */
export function parseTrustedKey(value: string, origin: string | undefined): NoteVerifier {
  if (existsSync(value)) {
    const raw = ed25519RawPublicKey(createPublicKey(readFileSync(value, 'utf8')));
    if (!origin) throw new InputError('no checkpoint names the log origin to use with a bare public key');
    return { name: origin, keyId: noteKeyId(origin, raw), publicKey: raw };
  }
  if (/^[^+\s]+\+[0-9a-f]{8}\+/.test(value)) {
    try {
      return parseVerifierKey(value);
    } catch (err) {
      throw new InputError(`--key: ${(err as Error).message}`);
    }
  }
  const raw = Buffer.from(value, 'base64');
  if (raw.length !== 32) throw new InputError(`--key ${value.slice(0, 40)}… is neither a verifier key, a PEM file nor a base64 Ed25519 public key`);
  if (!origin) throw new InputError('no checkpoint names the log origin to use with a bare public key');
  return { name: origin, keyId: noteKeyId(origin, raw), publicKey: raw };
}

function describe(r: LogVerification): string[] {
  const lines = [
    r.ok ? 'OK: the export rebuilds every signed checkpoint.' : 'FAILED: the export does not match the signed checkpoints.',
    `  events checked: ${r.checked}; latest checkpoint: size ${r.treeSize}${r.checkpoint ? `, root ${r.checkpoint.rootHash}, signed ${r.checkpoint.time ?? '(no time)'} by ${r.checkpoint.signedBy.join(', ')}` : ''}`,
    `  checkpoints checked: ${r.checkpoints}; events not covered by a checkpoint yet: ${r.unsealed}`,
  ];
  const p = r.firstProblem;
  if (p) {
    lines.push(`  first problem: ${p.problem}${p.seq ? ` at event seq ${p.seq}` : ''}${p.leafIndex ? ` (leaf ${p.leafIndex})` : ''}${p.checkpoint !== null ? `, checkpoint ${p.checkpoint}` : ''}`);
    lines.push(`  ${p.message}`);
    if (p.expected || p.found) lines.push(`  expected ${p.expected ?? '-'}, found ${p.found ?? '-'}`);
  }
  return lines;
}

export async function runVerifyCommand(argv: string[], out: (s: string) => void = console.log): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { events: { type: 'string' }, checkpoints: { type: 'string' }, key: { type: 'string', multiple: true }, json: { type: 'boolean' }, help: { type: 'boolean' } },
    }));
  } catch (err) {
    out(`${(err as Error).message}\nUsage:\n${VERIFY_USAGE}`);
    return 64;
  }
  if (values.help || !values.events || !values.checkpoints || !values.key?.length) {
    out(`Usage:\n${VERIFY_USAGE}`);
    return values.help ? 0 : 64;
  }
  let report: LogVerification;
  try {
    const events = readExport(readFileSync(values.events, 'utf8'));
    const notes = readCheckpoints(values.checkpoints);
    let origin: string | undefined;
    for (const n of notes) {
      try {
        origin = parseCheckpoint(parseNote(n).text).origin;
        break;
      } catch {
        // a malformed file: verification reports it
      }
    }
    const keys = values.key.map((k) => parseTrustedKey(k, origin));
    report = verifyExport(events, notes, keys);
  } catch (err) {
    out(`Error: ${(err as Error).message}`);
    return err instanceof InputError || (err as NodeJS.ErrnoException).code === 'ENOENT' ? 66 : 1;
  }
  if (values.json) out(JSON.stringify(report, null, 2));
  else for (const l of describe(report)) out(l);
  return report.ok ? 0 : 1;
}
