/**
 * Audit log checkpoints in the c2sp.org/tlog-checkpoint format: the note text is the log's origin, the tree size in
 * decimal and the root hash in base64, one per line, then Countersign's two extension lines:
 *
 *   time <ISO 8601 UTC>                      when the sealer signed it
 *   prev <size> <base64 SHA-256 of the previous checkpoint's note text>
 *
 * (`prev` is absent from the first checkpoint). The text is then signed as a c2sp.org/signed-note with the log's
 * Ed25519 key, whose key name is the origin. Any tlog-checkpoint client reads the first three lines and ignores the
 * extensions; `prev` lets a holder of two checkpoints see that nothing was signed between them, and which one came
 * first. Pure code.
 */
import { createHash } from 'node:crypto';
import { HASH_SIZE, type Hash } from './merkle';
import { isValidKeyName } from './signed-note';

export interface CheckpointBody {
  origin: string;
  treeSize: number;
  rootHash: Hash;
  /** When the sealer signed it. */
  time: Date;
  /** The previous checkpoint, absent for the first. */
  prev: { treeSize: number; textHash: Hash } | null;
}

export class CheckpointFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointFormatError';
  }
}

/** The note text of a checkpoint (ends with a newline). */
export function formatCheckpoint(c: CheckpointBody): string {
  if (!isValidKeyName(c.origin)) throw new CheckpointFormatError(`origin ${JSON.stringify(c.origin)} must be non-empty, without spaces or '+'`);
  if (c.rootHash.length !== HASH_SIZE) throw new CheckpointFormatError('root hash must be 32 bytes');
  const lines = [c.origin, String(c.treeSize), c.rootHash.toString('base64'), `time ${c.time.toISOString()}`];
  if (c.prev) lines.push(`prev ${c.prev.treeSize} ${c.prev.textHash.toString('base64')}`);
  return lines.join('\n') + '\n';
}

/** SHA-256 of a checkpoint's note text: what the next checkpoint's `prev` line names. */
export function checkpointTextHash(text: string): Hash {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Parses a checkpoint's note text (the part a signature covers), ours or any tlog-checkpoint. */
export function parseCheckpoint(text: string): CheckpointBody & { extensions: string[] } {
  if (!text.endsWith('\n')) throw new CheckpointFormatError('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3 || lines.some((l) => l === '')) throw new CheckpointFormatError('a checkpoint has an origin, a tree size and a root hash, on non-empty lines');
  const [origin, size, root, ...extensions] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size))) throw new CheckpointFormatError(`bad tree size ${JSON.stringify(size)}`);
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== HASH_SIZE || rootHash.toString('base64') !== root) throw new CheckpointFormatError('bad root hash');
  let time = new Date(NaN);
  let prev: CheckpointBody['prev'] = null;
  for (const ext of extensions) {
    const t = /^time (\S+)$/.exec(ext);
    if (t) time = new Date(t[1]);
    const p = /^prev (0|[1-9][0-9]*) (\S+)$/.exec(ext);
    if (p) {
      const textHash = Buffer.from(p[2], 'base64');
      if (textHash.length !== HASH_SIZE) throw new CheckpointFormatError('bad prev hash');
      prev = { treeSize: Number(p[1]), textHash };
    }
  }
  return { origin, treeSize: Number(size), rootHash, time, prev, extensions };
}
