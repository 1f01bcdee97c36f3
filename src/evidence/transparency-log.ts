/**
 * The transparency log over the audit trail: sealing committed events into leaves of an RFC 9162 Merkle tree and
 * signing a checkpoint of the new tree, listing checkpoints, inclusion and consistency proofs, and verifying that the
 * stored events rebuild every signed checkpoint.
 *
 * Sealing assigns leaf positions itself (whatever committed events the log does not hold yet, in `seq` order), never
 * "everything below id N": ids are drawn before commit, so a lower id can commit after a higher one was sealed; it is
 * sealed by a later checkpoint. Each seal is one transaction under an advisory lock (one sealer at a time): leaves,
 * subtree hashes and the signed checkpoint commit together or not at all, so a crashed sealer leaves nothing half
 * done, and the unique leaf position and event of each leaf make sealing anything twice impossible.
 */
import { checkpointTextHash, formatCheckpoint } from '../domain/checkpoint';
import { AppError } from '../domain/app-error';
import {
  checkpointSummary,
  createCheckpointChain,
  createTreeVerifier,
  openCheckpoint,
  problem,
  type LogProblem,
  type LogVerification,
  type VerifiedCheckpoint,
} from '../domain/log-verification';
import {
  CompactTree,
  consistencyProof,
  frontierIds,
  fullSubtreeHash,
  inclusionProof,
  isStoredLevel,
  leafHash,
  storedHashesRead,
  type NodeId,
  type StoredHashes,
  type StoredNode,
} from '../domain/merkle';
import { keyIdHex, parseNote, signNote, verifierKeyString, type NoteVerifier } from '../domain/signed-note';
import { nodeKey, type LeafRow, type LogStore, type SealTransaction, type StoredCheckpoint } from '../store/log-store';
import { noteVerifiers, type SigningKey, type TrustedKey } from './signing-key';

/** Events per seal transaction; a larger backlog is sealed by several checkpoints in a row. */
export const SEAL_BATCH = 10_000;
/** Leaves verification reads per round trip. */
const VERIFY_BATCH = 5_000;
/** Checkpoints verification reads per round trip. */
const CHECKPOINT_PAGE = 1_000;

export interface CheckpointView {
  treeSize: number;
  rootHash: string;
  origin: string;
  keyId: string;
  createdAt: string;
  /** The signed note (c2sp.org/tlog-checkpoint), byte for byte as published. */
  note: string;
}

export interface SealResult {
  /** Events sealed by this call. */
  sealed: number;
  /** Checkpoints written by this call, oldest first. */
  checkpoints: StoredCheckpoint[];
  /** Another sealer held the lock: nothing was done. */
  busy: boolean;
}

export interface Verification extends LogVerification {
  /** The latest checkpoint found outside the database (the file sink), which the database must hold. */
  published: { treeSize: number; rootHash: string } | null;
}

export interface TransparencyLog {
  /** The log's origin (checkpoint first line and key name). */
  readonly origin: string;
  /** Public keys trusted for verification, with their verifier key strings under this log's origin. */
  keys(): { kid: string; verifierKey: string; publicKey: string; status: 'current' | 'retired' }[];
  /** Seals every committed event not in the log yet (several checkpoints when the backlog exceeds one batch). */
  seal(): Promise<SealResult>;
  listCheckpoints(page: { limit: number; cursor?: string }): Promise<{ items: CheckpointView[]; nextCursor: string | null }>;
  inclusionProof(seq: string, treeSize?: number): Promise<{ seq: string; leafIndex: number; leafHash: string; treeSize: number; rootHash: string; checkpoint: string; proof: string[] }>;
  /**
   * Inclusion proofs of many leaves in the tree of `treeSize` leaves, read in one query (an evidence pack proves
   * thousands of events): base64 hashes, in the order of `leafIndexes`, each below `treeSize`.
   */
  /** The first checkpoint whose tree holds more than `size` leaves (the first to seal leaf `size`), or null. */
  firstCheckpointAbove(size: number): Promise<CheckpointView | null>;
  inclusionProofs(leafIndexes: readonly number[], treeSize: number): Promise<string[][]>;
  consistencyProof(from: number, to?: number): Promise<{ from: number; to: number; fromRoot: string; toRoot: string; fromCheckpoint: string; toCheckpoint: string; proof: string[] }>;
  verify(): Promise<Verification>;
}

const b64 = (b: Buffer) => b.toString('base64');

function view(c: StoredCheckpoint): CheckpointView {
  return { treeSize: c.treeSize, rootHash: b64(c.rootHash), origin: c.origin, keyId: c.keyId, createdAt: c.createdAt.toISOString(), note: c.note };
}

/** Fetches every stored hash a computation over {@link StoredHashes} reads, then runs it. */
async function withStoredHashes<T>(fetch: (ids: readonly NodeId[]) => Promise<Map<string, Buffer>>, run: (stored: StoredHashes) => T): Promise<T> {
  const hashes = await fetch(storedHashesRead(run));
  return run((level, index) => {
    const h = hashes.get(nodeKey(level, index));
    if (!h) throw new Error(`the log store lacks the hash of subtree ${level}/${index}`);
    return h;
  });
}

export function createTransparencyLog(deps: {
  store: LogStore;
  key: SigningKey;
  /** Keys trusted besides the current one (rotation). */
  retiredKeys: readonly TrustedKey[];
  /** The configured origin; an existing log keeps the origin of its first checkpoint. */
  origin: string;
  /** The latest checkpoint published outside the database, when a sink can tell (the file sink). */
  latestPublished?: () => Promise<string | null>;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  clock?: () => Date;
  batchSize?: number;
}): TransparencyLog {
  const { store, key } = deps;
  const clock = deps.clock ?? (() => new Date());
  const batchSize = deps.batchSize ?? SEAL_BATCH;
  let origin = deps.origin;
  /** The right edge of the tree as of the latest checkpoint this process wrote or checked. */
  let cached: { treeSize: number; root: Buffer; tree: CompactTree } | null = null;
  /** The largest checkpoint this process knows was signed (by it or published): it never signs an inconsistent one. */
  let highest: { treeSize: number; root: Buffer } | null = null;
  let swept = false;
  let highestLoaded = false;
  let originNoted = false;

  const trusted: TrustedKey[] = [{ publicKeyRaw: key.publicKeyRaw, kid: key.kid, status: 'current' }, ...deps.retiredKeys];
  const verifiers = (forOrigin: string): NoteVerifier[] => noteVerifiers(trusted, forOrigin);

  async function loadHighest(): Promise<void> {
    if (highestLoaded || !deps.latestPublished) return;
    highestLoaded = true;
    const note = await deps.latestPublished();
    if (!note) return;
    const opened = openCheckpoint(note, verifiers(origin));
    if ('checkpoint' in opened) raiseHighest(opened.checkpoint.treeSize, opened.checkpoint.rootHash);
  }

  function raiseHighest(treeSize: number, root: Buffer): void {
    if (!highest || treeSize > highest.treeSize) highest = { treeSize, root };
  }

  /** The tree as of `latest`, from the cache or the stored hashes; refuses a state that does not match its signature. */
  async function treeAt(tx: SealTransaction, latest: StoredCheckpoint | null): Promise<CompactTree> {
    if (!latest) return new CompactTree();
    if (cached && cached.treeSize === latest.treeSize && cached.root.equals(latest.rootHash)) return cached.tree;
    const opened = openCheckpoint(latest.note, verifiers(latest.origin));
    if ('problem' in opened) throw new Error(`refusing to extend checkpoint ${latest.treeSize}: ${opened.problem.message}`);
    if (opened.checkpoint.treeSize !== latest.treeSize || !opened.checkpoint.rootHash.equals(latest.rootHash)) {
      throw new Error(`refusing to extend checkpoint ${latest.treeSize}: its row does not match its signed note`);
    }
    const ids = frontierIds(latest.treeSize);
    const frontier = await withStoredHashes(tx.storedHashes, (stored) => ids.map((id) => fullSubtreeHash(id.level, id.index, stored)));
    const tree = new CompactTree(latest.treeSize, frontier);
    if (!tree.root().equals(latest.rootHash)) throw new Error(`refusing to extend checkpoint ${latest.treeSize}: the stored subtree hashes do not rebuild its root`);
    return tree;
  }

  async function sealBatch(): Promise<{ sealed: number; checkpoint: StoredCheckpoint | null } | null> {
    await loadHighest();
    const res = await store.withSealLock(async (tx) => {
      const latest = await tx.latestCheckpoint();
      if (latest && latest.origin !== origin) {
        if (!originNoted) deps.log.warn({ configured: origin, log: latest.origin }, "the log's origin is fixed by its first checkpoint; CHECKPOINT_ORIGIN (or PUBLIC_BASE_URL) now says otherwise and is ignored");
        originNoted = true;
        origin = latest.origin;
      }
      if (highest && (!latest || latest.treeSize < highest.treeSize)) {
        throw new Error(`the database's latest checkpoint (${latest?.treeSize ?? 0}) is older than checkpoint ${highest.treeSize}, already signed and published: refusing to fork the log`);
      }
      // The first seal of a process looks at every event, so nothing missed by an earlier run stays unsealed.
      const since = latest && swept ? latest.horizon : '0';
      const events = await tx.unsealedEvents(since, batchSize);
      if (events.length === 0) return { sealed: 0, checkpoint: null };
      const tree = await treeAt(tx, latest);
      const leaves: LeafRow[] = [];
      const nodes: StoredNode[] = [];
      for (const e of events) {
        const h = leafHash(e.payload);
        leaves.push({ leafIndex: tree.size, seq: e.seq, leafHash: h });
        tree.append(h, (n) => isStoredLevel(n.level) && nodes.push(n));
      }
      const rootHash = tree.root();
      const prev = latest ? { treeSize: latest.treeSize, textHash: checkpointTextHash(parseNote(latest.note).text) } : null;
      const text = formatCheckpoint({ origin, treeSize: tree.size, rootHash, time: clock(), prev });
      const signer = key.noteSigner(origin);
      const note = signNote(text, [signer]);
      // A full batch leaves events behind: keep the old horizon so the next seal still looks at them.
      const horizon = events.length < batchSize ? tx.horizon : since;
      const checkpoint = { treeSize: tree.size, rootHash, origin, note, keyId: keyIdHex(signer.keyId), prevHash: prev?.textHash ?? null, horizon };
      await tx.append({ leaves, nodes, checkpoint });
      return { sealed: events.length, checkpoint: { ...checkpoint, createdAt: clock() }, tree };
    });
    if (!res.locked) return null;
    swept = true;
    const { sealed, checkpoint } = res.result;
    if (checkpoint && 'tree' in res.result) {
      cached = { treeSize: checkpoint.treeSize, root: checkpoint.rootHash, tree: res.result.tree };
      raiseHighest(checkpoint.treeSize, checkpoint.rootHash);
    }
    return { sealed, checkpoint };
  }

  return {
    get origin() {
      return origin;
    },

    keys() {
      return trusted.map((k) => ({
        kid: k.kid,
        verifierKey: verifierKeyString(k.name ?? origin, k.publicKeyRaw),
        publicKey: b64(k.publicKeyRaw),
        status: k.status,
      }));
    },

    async seal() {
      const out: SealResult = { sealed: 0, checkpoints: [], busy: false };
      for (;;) {
        let batch;
        try {
          batch = await sealBatch();
        } catch (err) {
          // Crash-safe: the transaction rolled back, so the next attempt starts from the last checkpoint again.
          cached = null;
          throw err;
        }
        if (!batch) return { ...out, busy: true };
        out.sealed += batch.sealed;
        if (batch.checkpoint) out.checkpoints.push(batch.checkpoint);
        if (batch.sealed < batchSize) return out;
      }
    },

    async listCheckpoints({ limit, cursor }) {
      // A tree size: a safe integer (a longer one would overflow the bigint comparison and is no cursor of ours).
      if (cursor !== undefined && !/^\d{1,15}$/.test(cursor)) throw new AppError('invalid_cursor', 'Invalid field `cursor`: not a cursor this API returned.', { field: 'cursor' });
      const rows = await store.listCheckpoints({ limit: limit + 1, beforeSize: cursor === undefined ? undefined : Number(cursor) });
      const items = rows.slice(0, limit).map(view);
      return { items, nextCursor: rows.length > limit ? String(items[items.length - 1].treeSize) : null };
    },

    async inclusionProof(seq, treeSize) {
      const leaf = await store.leafOf(seq);
      if (!leaf) throw new AppError('not_found', `No audit event with seq ${seq}.`, { field: 'event' });
      if (leaf === 'unsealed') throw new AppError('not_sealed', `Event ${seq} is not in the log yet: events are sealed within AUDIT_SEAL_INTERVAL_MS of their commit.`, { field: 'event' });
      const checkpoint = treeSize === undefined ? await store.latestCheckpoint() : await store.checkpointAt(treeSize);
      if (!checkpoint) throw new AppError('checkpoint_not_found', `No checkpoint of size ${treeSize}.`, { field: 'treeSize' });
      if (leaf.leafIndex >= checkpoint.treeSize) {
        throw new AppError('not_sealed', `Event ${seq} is leaf ${leaf.leafIndex}, after checkpoint ${checkpoint.treeSize}: ask for a later checkpoint.`, { field: 'treeSize' });
      }
      const proof = await withStoredHashes(store.storedHashes, (stored) => inclusionProof(leaf.leafIndex, checkpoint.treeSize, stored));
      return { seq, leafIndex: leaf.leafIndex, leafHash: b64(leaf.leafHash), treeSize: checkpoint.treeSize, rootHash: b64(checkpoint.rootHash), checkpoint: checkpoint.note, proof: proof.map(b64) };
    },

    async firstCheckpointAbove(size) {
      const [first] = await store.withSnapshot((snap) => snap.checkpoints(size, 1));
      return first ? view(first) : null;
    },

    async inclusionProofs(leafIndexes, treeSize) {
      const proofs = await withStoredHashes(store.storedHashes, (stored) => leafIndexes.map((i) => inclusionProof(i, treeSize, stored)));
      return proofs.map((p) => p.map(b64));
    },

    async consistencyProof(from, to) {
      const [a, b] = await Promise.all([store.checkpointAt(from), to === undefined ? store.latestCheckpoint() : store.checkpointAt(to)]);
      if (!a) throw new AppError('checkpoint_not_found', `No checkpoint of size ${from}.`, { field: 'from' });
      if (!b) throw new AppError('checkpoint_not_found', `No checkpoint of size ${to ?? '(latest)'}.`, { field: 'to' });
      if (a.treeSize > b.treeSize) throw new AppError('bad_request', 'Invalid field `from`: must not exceed `to`.', { field: 'from' });
      const proof = await withStoredHashes(store.storedHashes, (stored) => consistencyProof(a.treeSize, b.treeSize, stored));
      return { from: a.treeSize, to: b.treeSize, fromRoot: b64(a.rootHash), toRoot: b64(b.rootHash), fromCheckpoint: a.note, toCheckpoint: b.note, proof: proof.map(b64) };
    },

    async verify() {
      // Read what was published first: the sealer publishes only after its commit, so the snapshot below holds it.
      const publishedNote = deps.latestPublished ? await deps.latestPublished().catch(() => null) : null;
      return store.withSnapshot(async (snap): Promise<Verification> => {
        const [first] = await snap.checkpoints(-1, 1);
        const latestRow = await snap.latestCheckpoint();
        const logOrigin = first?.origin ?? origin;
        const keys = verifiers(logOrigin);
        let published: Verification['published'] = null;
        let latestVerified: VerifiedCheckpoint | undefined;
        // Only the signed notes count: the tree_size and root_hash columns beside them are conveniences anyone could edit.
        const chain = createCheckpointChain(keys, { complete: true, origin: logOrigin });
        const tree = createTreeVerifier();
        const report = (unsealed: number, firstProblem: LogProblem | null): Verification => {
          const latest = latestVerified ?? chain.latest;
          return {
            ok: firstProblem === null,
            checked: tree.checked,
            treeSize: latest?.treeSize ?? 0,
            checkpoints: chain.count,
            unsealed,
            checkpoint: checkpointSummary(latest),
            published,
            firstProblem,
          };
        };

        if (latestRow) {
          const opened = openCheckpoint(latestRow.note, keys);
          if ('problem' in opened) return report(0, opened.problem);
          latestVerified = opened.checkpoint;
        }
        if (publishedNote) {
          const opened = openCheckpoint(publishedNote, keys);
          if ('problem' in opened) return report(0, { ...opened.problem, message: `published checkpoint: ${opened.problem.message}` });
          const p = opened.checkpoint;
          published = { treeSize: p.treeSize, rootHash: b64(p.rootHash) };
          const row = await snap.checkpointAt(p.treeSize);
          const same = row ? openCheckpoint(row.note, keys) : null;
          if (!same || 'problem' in same) {
            return report(0, problem(
              !latestVerified || p.treeSize > latestVerified.treeSize ? 'behind_published' : 'checkpoint_missing',
              `checkpoint ${p.treeSize} was published outside the database but the database does not hold it (latest: ${latestVerified?.treeSize ?? 0}): events were removed`,
              { checkpoint: p.treeSize, expected: b64(p.rootHash) },
            ));
          }
          if (!same.checkpoint.rootHash.equals(p.rootHash)) {
            return report(0, problem('published_mismatch', `the database's checkpoint ${p.treeSize} differs from the one published`, { checkpoint: p.treeSize, expected: b64(p.rootHash), found: b64(same.checkpoint.rootHash) }));
          }
        }

        // Checkpoints and leaves are both read in pages, so memory stays flat however long the log.
        let buffered: Awaited<ReturnType<typeof snap.leaves>> = [];
        let next = 0;
        for (let after = -1; ; ) {
          const page = await snap.checkpoints(after, CHECKPOINT_PAGE);
          if (page.length === 0) break;
          for (const row of page) {
            const r = chain.push(row.note);
            if ('problem' in r) return report(0, r.problem);
            tree.expect(r.checkpoint);
            while (tree.checked < r.checkpoint.treeSize) {
              if (next >= buffered.length) {
                buffered = await snap.leaves(tree.checked, VERIFY_BATCH);
                next = 0;
                if (buffered.length === 0) break;
              }
              const found = tree.push(buffered[next++]);
              if (found) return report(0, found);
            }
          }
          after = page[page.length - 1].treeSize;
        }
        const end = tree.finish();
        if (end) return report(0, end);
        const unsealed = await snap.unsealed(latestRow ? latestRow.horizon : '0');
        if (latestRow && unsealed.overdue) {
          return report(unsealed.pending, problem('not_sealed', `event seq ${unsealed.overdue.seq} committed before checkpoint ${latestRow.treeSize} was sealed, yet it is not in the log`, { seq: unsealed.overdue.seq, checkpoint: latestRow.treeSize }));
        }
        return report(unsealed.pending, null);
      });
    },
  };
}
