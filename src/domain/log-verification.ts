/**
 * Checking the audit log against its signed checkpoints: the one verifier both `GET /v1/audit/verify` (events read
 * from PostgreSQL) and `npm run cli -- verify` (an NDJSON export and the published checkpoint files, offline) run.
 *
 * What is checked, in order, stopping at the first problem:
 *   1. every checkpoint is a well-formed tlog-checkpoint signed by a trusted key, all of the same origin, with
 *      strictly increasing sizes, each `prev` line naming the previous one's text hash;
 *   2. the events, taken in leaf order, rebuild every checkpoint's root at its size (which also makes every
 *      checkpoint consistent with every earlier one); each event's payload hashes to the leaf hash recorded for it.
 *
 * A checkpoint pins its root, not its leaves: when someone rewrote events AND every hash the database holds, the
 * first failing checkpoint tells the range of leaves (one seal batch) where the first difference lies, and the event
 * now at the start of that range is the one named. Pure code.
 */
import { checkpointTextHash, parseCheckpoint, type CheckpointBody } from './checkpoint';
import { CompactTree, leafHash, type Hash } from './merkle';
import { keyIdHex, NoteError, openNote, type NoteVerifier } from './signed-note';

export type LogProblemKind =
  | 'malformed_checkpoint'
  | 'unknown_key'
  | 'bad_signature'
  | 'origin_mismatch'
  | 'fork'
  | 'prev_mismatch'
  | 'checkpoint_missing'
  | 'leaf_missing'
  | 'duplicate_leaf'
  | 'event_missing'
  | 'leaf_hash_mismatch'
  | 'root_mismatch'
  | 'not_sealed'
  | 'published_mismatch'
  | 'behind_published';

export interface LogProblem {
  problem: LogProblemKind;
  /** The leaf position concerned, when there is one. */
  leafIndex: string | null;
  /** The audit event concerned (its `seq`), when known. */
  seq: string | null;
  /** The checkpoint concerned (its tree size), when there is one. */
  checkpoint: number | null;
  expected: string | null;
  found: string | null;
  message: string;
}

/** A checkpoint whose signature checked out. */
export interface VerifiedCheckpoint extends CheckpointBody {
  note: string;
  text: string;
  textHash: Hash;
  /** Verifier keys (`name+id`) whose signatures verified. */
  signedBy: string[];
}

export interface LogVerification {
  ok: boolean;
  /** Events rebuilt into the tree. */
  checked: number;
  /** Size of the latest signed checkpoint (0 when there is none). */
  treeSize: number;
  /** Checkpoints whose signatures and links were checked. */
  checkpoints: number;
  /** Events not in the log yet (committed after the last seal), or beyond the latest checkpoint given. */
  unsealed: number;
  checkpoint: { treeSize: number; rootHash: string; time: string | null; signedBy: string[] } | null;
  firstProblem: LogProblem | null;
}

export function problem(kind: LogProblemKind, message: string, at: Partial<Omit<LogProblem, 'problem' | 'message'>> = {}): LogProblem {
  return { problem: kind, leafIndex: at.leafIndex ?? null, seq: at.seq ?? null, checkpoint: at.checkpoint ?? null, expected: at.expected ?? null, found: at.found ?? null, message };
}

/** Opens and parses one signed checkpoint; the problem says why it cannot be trusted. */
export function openCheckpoint(note: string, keys: readonly NoteVerifier[]): { checkpoint: VerifiedCheckpoint } | { problem: LogProblem } {
  let opened;
  try {
    opened = openNote(note, keys);
  } catch (err) {
    const size = /^[^\n]*\n(\d+)\n/.exec(note)?.[1];
    const at = { checkpoint: size === undefined ? null : Number(size) };
    if (err instanceof NoteError && err.code === 'invalid_signature') return { problem: problem('bad_signature', `checkpoint ${size ?? '?'}: ${err.message}`, at) };
    if (err instanceof NoteError && err.code === 'unverified_note') return { problem: problem('unknown_key', `checkpoint ${size ?? '?'} is not signed by a trusted key`, at) };
    return { problem: problem('malformed_checkpoint', `checkpoint ${size ?? '?'}: ${(err as Error).message}`, at) };
  }
  try {
    const body = parseCheckpoint(opened.text);
    return {
      checkpoint: { ...body, note, text: opened.text, textHash: checkpointTextHash(opened.text), signedBy: opened.verifiedBy.map((v) => `${v.name}+${keyIdHex(v.keyId)}`) },
    };
  } catch (err) {
    return { problem: problem('malformed_checkpoint', (err as Error).message) };
  }
}

/**
 * Checks signed checkpoints one at a time, in increasing tree size: signature by a trusted key, one origin, `prev`
 * links. With `complete`, the sequence must be the whole history (the database's table), so a `prev` naming a size
 * that was not given is a problem; a set of published files may have gaps. Memory stays flat however long the log.
 */
export function createCheckpointChain(keys: readonly NoteVerifier[], opts: { complete: boolean; origin?: string }) {
  let origin = opts.origin;
  let before: VerifiedCheckpoint | undefined;
  let count = 0;
  return {
    get count() {
      return count;
    },
    get latest() {
      return before;
    },
    /** Checks the next checkpoint (sizes must not decrease): the verified checkpoint, or the problem with it. */
    push(note: string): { checkpoint: VerifiedCheckpoint } | { problem: LogProblem } {
      const opened = openCheckpoint(note, keys);
      if ('problem' in opened) return opened;
      const c = opened.checkpoint;
      const at = { checkpoint: c.treeSize };
      origin ??= c.origin;
      if (c.origin !== origin) return { problem: problem('origin_mismatch', `checkpoint ${c.treeSize} is for log ${c.origin}, not ${origin}`, { ...at, expected: origin, found: c.origin }) };
      if (before && c.treeSize < before.treeSize) return { problem: problem('malformed_checkpoint', `checkpoint ${c.treeSize} given after checkpoint ${before.treeSize}`, at) };
      if (before && before.treeSize === c.treeSize) {
        if (!before.rootHash.equals(c.rootHash)) {
          return { problem: problem('fork', `two signed checkpoints of size ${c.treeSize} have different roots`, { ...at, expected: before.rootHash.toString('base64'), found: c.rootHash.toString('base64') }) };
        }
        return { checkpoint: c };
      }
      if (!c.prev) {
        if (before) return { problem: problem('prev_mismatch', `checkpoint ${c.treeSize} claims to be the first, but checkpoint ${before.treeSize} precedes it`, at) };
      } else if (c.prev.treeSize >= c.treeSize) {
        return { problem: problem('prev_mismatch', `checkpoint ${c.treeSize} names a previous checkpoint of size ${c.prev.treeSize}`, at) };
      } else if (before && c.prev.treeSize === before.treeSize) {
        if (!c.prev.textHash.equals(before.textHash)) {
          return {
            problem: problem('prev_mismatch', `checkpoint ${c.treeSize} does not follow the checkpoint ${before.treeSize} given`, {
              ...at, expected: c.prev.textHash.toString('base64'), found: before.textHash.toString('base64'),
            }),
          };
        }
      } else if (before && c.prev.treeSize < before.treeSize) {
        return { problem: problem('prev_mismatch', `checkpoint ${c.treeSize} follows checkpoint ${c.prev.treeSize}, skipping checkpoint ${before.treeSize}`, at) };
      } else if (opts.complete) {
        return { problem: problem('checkpoint_missing', `checkpoint ${c.prev.treeSize}, which checkpoint ${c.treeSize} follows, is missing`, { checkpoint: c.prev.treeSize }) };
      }
      before = c;
      count++;
      return { checkpoint: c };
    },
  };
}

/** {@link createCheckpointChain} over a whole set, in any order. */
export function checkCheckpoints(
  notes: readonly string[],
  keys: readonly NoteVerifier[],
  opts: { complete: boolean; origin?: string },
): { checkpoints: VerifiedCheckpoint[]; problem: LogProblem | null } {
  const opened: VerifiedCheckpoint[] = [];
  for (const note of notes) {
    const o = openCheckpoint(note, keys);
    if ('problem' in o) return { checkpoints: opened, problem: o.problem };
    opened.push(o.checkpoint);
  }
  opened.sort((a, b) => a.treeSize - b.treeSize);
  const chain = createCheckpointChain(keys, opts);
  const checkpoints: VerifiedCheckpoint[] = [];
  for (const c of opened) {
    const r = chain.push(c.note);
    if ('problem' in r) return { checkpoints, problem: r.problem };
    if (checkpoints[checkpoints.length - 1]?.treeSize !== c.treeSize) checkpoints.push(r.checkpoint);
  }
  return { checkpoints, problem: null };
}

/** One log leaf as a verifier reads it: its position, the event stored there, and the leaf hash recorded at sealing. */
export interface LeafInput {
  leafIndex: number;
  seq: string | null;
  /** The event's canonical payload; null when the leaf's event is gone. */
  payload: string | null;
  /** The leaf hash recorded when it was sealed, when the source has one. */
  leafHash?: Hash | null;
}

/**
 * Rebuilds the tree leaf by leaf (in leaf order) and compares its root with each checkpoint as it reaches its size.
 * Checkpoints are given up front or one by one with `expect` (in increasing size, before their leaves), so neither
 * the leaves nor the checkpoints need to be held in memory. `push` and `finish` return the first problem, after
 * which the verifier should not be fed further.
 */
export function createTreeVerifier(initial: readonly VerifiedCheckpoint[] = []) {
  const tree = new CompactTree();
  const pending: VerifiedCheckpoint[] = [];
  let latest = 0;
  let rangeStart = { leafIndex: 0, seq: null as string | null };

  function expect(c: VerifiedCheckpoint): void {
    if (c.treeSize <= latest || c.treeSize <= tree.size) return;
    pending.push(c);
    latest = c.treeSize;
  }
  for (const c of initial) expect(c);

  return {
    expect,
    get checked() {
      return tree.size;
    },
    /** True once the latest checkpoint's size is reached: later leaves are not covered by any checkpoint. */
    get complete() {
      return tree.size >= latest;
    },
    push(leaf: LeafInput): LogProblem | undefined {
      const at = { leafIndex: String(leaf.leafIndex), seq: leaf.seq };
      if (leaf.leafIndex > tree.size) return problem('leaf_missing', `leaf ${tree.size} is missing: the next leaf found is ${leaf.leafIndex}`, { leafIndex: String(tree.size) });
      if (leaf.leafIndex < tree.size) return problem('duplicate_leaf', `leaf ${leaf.leafIndex} appears twice`, at);
      if (leaf.payload === null) return problem('event_missing', `the event sealed as leaf ${leaf.leafIndex}${leaf.seq ? ` (seq ${leaf.seq})` : ''} is gone`, at);
      const h = leafHash(leaf.payload);
      if (leaf.leafHash && !leaf.leafHash.equals(h)) {
        return problem('leaf_hash_mismatch', `event seq ${leaf.seq} (leaf ${leaf.leafIndex}) no longer hashes to the leaf hash recorded when it was sealed`, {
          ...at, expected: leaf.leafHash.toString('base64'), found: h.toString('base64'),
        });
      }
      if (tree.size === rangeStart.leafIndex) rangeStart = { leafIndex: tree.size, seq: leaf.seq };
      tree.append(h);
      if (pending.length && tree.size === pending[0].treeSize) {
        const c = pending.shift()!;
        const root = tree.root();
        if (!root.equals(c.rootHash)) {
          const intact = rangeStart.leafIndex === 0 ? 'no earlier checkpoint vouches for any leaf' : `leaves 0..${rangeStart.leafIndex - 1} do`;
          return problem(
            'root_mismatch',
            `the events at leaves ${rangeStart.leafIndex}..${c.treeSize - 1} do not rebuild the root checkpoint ${c.treeSize} signed; ${intact}, ` +
              `so the first difference is at or after event seq ${rangeStart.seq} (leaf ${rangeStart.leafIndex})`,
            { leafIndex: String(rangeStart.leafIndex), seq: rangeStart.seq, checkpoint: c.treeSize, expected: c.rootHash.toString('base64'), found: root.toString('base64') },
          );
        }
        rangeStart = { leafIndex: tree.size, seq: null };
      }
      return undefined;
    },
    finish(): LogProblem | undefined {
      if (tree.size < latest) {
        return problem('leaf_missing', `checkpoint ${latest} covers ${latest} leaves; only ${tree.size} were found`, { leafIndex: String(tree.size), checkpoint: latest });
      }
      return undefined;
    },
  };
}

/** The summary of the latest checkpoint, as reports show it. */
export function checkpointSummary(c: VerifiedCheckpoint | undefined): LogVerification['checkpoint'] {
  if (!c) return null;
  return { treeSize: c.treeSize, rootHash: c.rootHash.toString('base64'), time: Number.isNaN(c.time.getTime()) ? null : c.time.toISOString(), signedBy: c.signedBy };
}

/** One line of an NDJSON audit export, as far as verification needs it. */
export interface ExportedEvent {
  seq: string;
  leafIndex: string | null;
  leafHash?: string | null;
  payload: string;
}

/**
 * Verifies an audit export (every event, as `GET /v1/audit?format=ndjson` streams them) against published
 * checkpoints and the trusted public keys, without the service or its database.
 */
export function verifyExport(events: readonly ExportedEvent[], checkpointNotes: readonly string[], keys: readonly NoteVerifier[]): LogVerification {
  const { checkpoints, problem: checkpointProblem } = checkCheckpoints(checkpointNotes, keys, { complete: false });
  const latest = checkpoints[checkpoints.length - 1];
  const report = (checked: number, unsealed: number, firstProblem: LogProblem | null): LogVerification => ({
    ok: firstProblem === null && checkpoints.length > 0,
    checked,
    treeSize: latest?.treeSize ?? 0,
    checkpoints: checkpoints.length,
    unsealed,
    checkpoint: checkpointSummary(latest),
    firstProblem,
  });
  if (checkpointProblem) return report(0, 0, checkpointProblem);
  if (checkpoints.length === 0) return report(0, events.length, problem('checkpoint_missing', 'no signed checkpoint was given: nothing anchors the events'));

  const byLeaf = new Map<number, ExportedEvent>();
  let unsealed = 0;
  for (const e of events) {
    if (e.leafIndex === null || e.leafIndex === undefined) {
      unsealed++;
      continue;
    }
    const i = Number(e.leafIndex);
    const twin = byLeaf.get(i);
    if (twin) return report(0, unsealed, problem('duplicate_leaf', `leaf ${i} is claimed by events seq ${twin.seq} and seq ${e.seq}`, { leafIndex: String(i), seq: e.seq }));
    byLeaf.set(i, e);
  }
  const verifier = createTreeVerifier(checkpoints);
  const indexes = [...byLeaf.keys()].sort((a, b) => a - b);
  for (const i of indexes) {
    if (verifier.complete) {
      unsealed++;
      continue;
    }
    const e = byLeaf.get(i)!;
    const found = verifier.push({ leafIndex: i, seq: e.seq, payload: e.payload, leafHash: e.leafHash ? Buffer.from(e.leafHash, 'base64') : null });
    if (found) return report(verifier.checked, unsealed, found);
  }
  return report(verifier.checked, unsealed, verifier.finish() ?? null);
}
