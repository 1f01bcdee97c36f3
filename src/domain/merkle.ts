/**
 * The Merkle tree of the audit log, exactly as RFC 9162 section 2.1 defines it (the RFC 6962 tree every transparency
 * log tool speaks): leaf hash SHA-256(0x00 || leaf), interior node SHA-256(0x01 || left || right), empty tree
 * SHA-256(""), a tree of n leaves split at the largest power of two smaller than n. Inclusion and consistency proofs
 * are generated and verified with the RFC's algorithms (2.1.3 and 2.1.4), so a third party can check them with any
 * RFC 9162 implementation.
 *
 * Storage follows the tlog-tiles idea (c2sp.org/tlog-tiles): only leaf hashes and the hashes of full subtrees at every
 * {@link STORED_LEVEL_STRIDE}-th level are kept; any other subtree hash is recomputed from at most 2^(stride-1)
 * stored hashes below it. Pure code: no I/O; proof builders take an accessor for stored hashes.
 */
import { createHash } from 'node:crypto';

export type Hash = Buffer;

export const HASH_SIZE = 32;

/** Levels whose full-subtree hashes are stored (besides leaves, level 0): 8, 16, 24… like tlog-tiles' 256-wide tiles. */
export const STORED_LEVEL_STRIDE = 8;

export const EMPTY_ROOT: Hash = createHash('sha256').digest();

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

export function leafHash(leaf: Uint8Array | string): Hash {
  return createHash('sha256').update(LEAF_PREFIX).update(typeof leaf === 'string' ? Buffer.from(leaf, 'utf8') : leaf).digest();
}

export function nodeHash(left: Hash, right: Hash): Hash {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/** Largest power of two strictly smaller than n (n ≥ 2): the RFC's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over a list of leaf hashes, by the RFC's recursive definition (the reference the faster paths are tested against). */
export function rootOf(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0];
  const k = splitPoint(leaves.length);
  return nodeHash(rootOf(leaves.slice(0, k)), rootOf(leaves.slice(k)));
}

// ---------------------------------------------------------------------------------------------------------------
// Perfect subtrees and the right edge ("frontier") of a tree

/** A full subtree of 2^level leaves, the index-th of its level: it covers leaves [index·2^level, (index+1)·2^level). */
export interface NodeId {
  level: number;
  index: number;
}

export interface StoredNode extends NodeId {
  hash: Hash;
}

/**
 * The full subtrees whose hashes make up the right edge of a tree of `size` leaves, largest first: one per set bit of
 * `size`. Appending needs only these; the root is their fold from the right.
 */
export function frontierIds(size: number): NodeId[] {
  const ids: NodeId[] = [];
  let start = 0;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (Math.floor(size / width) % 2 === 1) {
      ids.push({ level, index: start / width });
      start += width;
    }
  }
  return ids;
}

/** The root from the right-edge hashes (largest subtree first). */
export function frontierRoot(frontier: readonly Hash[]): Hash {
  if (frontier.length === 0) return EMPTY_ROOT;
  let acc = frontier[frontier.length - 1];
  for (let i = frontier.length - 2; i >= 0; i--) acc = nodeHash(frontier[i], acc);
  return acc;
}

/** The growing tree as the sealer and the verifiers build it: size, right edge, and the root at any moment. */
export class CompactTree {
  private edge: { level: number; hash: Hash }[];

  /** Starts from a tree of `size` leaves given its right edge (see {@link frontierIds}), or from the empty tree. */
  constructor(
    private count = 0,
    frontier: readonly Hash[] = [],
  ) {
    const ids = frontierIds(count);
    if (ids.length !== frontier.length) throw new RangeError(`a tree of ${count} leaves has ${ids.length} right-edge subtrees, got ${frontier.length}`);
    this.edge = ids.map((id, i) => ({ level: id.level, hash: frontier[i] }));
  }

  get size(): number {
    return this.count;
  }

  get frontier(): Hash[] {
    return this.edge.map((e) => e.hash);
  }

  root(): Hash {
    return frontierRoot(this.frontier);
  }

  /**
   * Appends one leaf hash; calls `onFullSubtree` for every full subtree the append completes, the leaf itself
   * (level 0) included, so a caller can keep whichever levels it stores.
   */
  append(leaf: Hash, onFullSubtree?: (node: StoredNode) => void): void {
    const index = this.count;
    let hash = leaf;
    let level = 0;
    onFullSubtree?.({ level: 0, index, hash });
    while (this.edge.length > 0 && this.edge[this.edge.length - 1].level === level) {
      const left = this.edge.pop()!;
      hash = nodeHash(left.hash, hash);
      level++;
      onFullSubtree?.({ level, index: Math.floor(index / 2 ** level), hash });
    }
    this.edge.push({ level, hash });
    this.count++;
  }
}

/** True for the levels whose full-subtree hashes are stored besides leaves. */
export function isStoredLevel(level: number): boolean {
  return level > 0 && level % STORED_LEVEL_STRIDE === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Hashes of arbitrary subtrees from stored hashes

/** Reads a stored hash: a leaf hash (level 0) or a full subtree at a stored level. Throws when absent. */
export type StoredHashes = (level: number, index: number) => Hash;

/** The hash of the full subtree (level, index), recomputed from the nearest stored level below it. */
export function fullSubtreeHash(level: number, index: number, stored: StoredHashes): Hash {
  if (level === 0 || isStoredLevel(level)) return stored(level, index);
  return nodeHash(fullSubtreeHash(level - 1, 2 * index, stored), fullSubtreeHash(level - 1, 2 * index + 1, stored));
}

/**
 * MTH(D[start:end]) for the ranges the RFC's recursion visits: `start` is a multiple of the largest power of two not
 * above `end - start`, so the range is a sequence of aligned full subtrees (one per set bit of its length, largest
 * first) folded from the right.
 */
export function rangeHash(start: number, end: number, stored: StoredHashes): Hash {
  if (end <= start) return EMPTY_ROOT;
  const parts: Hash[] = [];
  let at = start;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (Math.floor((end - start) / width) % 2 === 1) {
      if (at % width !== 0) throw new RangeError(`range [${start}, ${end}) is not made of aligned subtrees`);
      parts.push(fullSubtreeHash(level, at / width, stored));
      at += width;
    }
  }
  return frontierRoot(parts);
}

// ---------------------------------------------------------------------------------------------------------------
// Proofs (RFC 9162 2.1.3.1 and 2.1.4.1)

function checkSize(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer`);
}

/** PATH(m, D[n]): the inclusion proof of leaf `index` in the tree of the first `size` leaves. */
export function inclusionProof(index: number, size: number, stored: StoredHashes): Hash[] {
  checkSize('index', index);
  checkSize('size', size);
  if (index >= size) throw new RangeError(`leaf ${index} is not in a tree of ${size} leaves`);
  const path: Hash[] = [];
  // PATH(m, D[lo:hi]) walked top-down; the RFC lists the hashes bottom-up, hence unshift.
  let lo = 0;
  let hi = size;
  let m = index;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (m < k) {
      path.unshift(rangeHash(lo + k, hi, stored));
      hi = lo + k;
    } else {
      path.unshift(rangeHash(lo, lo + k, stored));
      lo += k;
      m -= k;
    }
  }
  return path;
}

/** PROOF(m, D[n]): the consistency proof between the trees of the first `from` and the first `to` leaves. */
export function consistencyProof(from: number, to: number, stored: StoredHashes): Hash[] {
  checkSize('from', from);
  checkSize('to', to);
  if (from > to) throw new RangeError(`a tree of ${from} leaves cannot be a prefix of one of ${to}`);
  if (from === 0 || from === to) return [];
  const proof: Hash[] = [];
  // SUBPROOF(m, D[lo:hi], b), top-down; hashes are listed bottom-up.
  let lo = 0;
  let hi = to;
  let m = from;
  let complete = true;
  for (;;) {
    const n = hi - lo;
    if (m === n) {
      if (!complete) proof.unshift(rangeHash(lo, hi, stored));
      return proof;
    }
    const k = splitPoint(n);
    if (m <= k) {
      proof.unshift(rangeHash(lo + k, hi, stored));
      hi = lo + k;
    } else {
      proof.unshift(rangeHash(lo, lo + k, stored));
      lo += k;
      m -= k;
      complete = false;
    }
  }
}

/**
 * The stored hashes a proof (or any computation over {@link StoredHashes}) will read, found by running it once against
 * placeholder hashes: which hashes are read never depends on their values. Lets a store fetch them in one query.
 */
export function storedHashesRead(run: (stored: StoredHashes) => unknown): NodeId[] {
  const seen = new Map<string, NodeId>();
  const placeholder = Buffer.alloc(HASH_SIZE);
  run((level, index) => {
    seen.set(`${level}/${index}`, { level, index });
    return placeholder;
  });
  return [...seen.values()];
}

// ---------------------------------------------------------------------------------------------------------------
// Verification (RFC 9162 2.1.3.2 and 2.1.4.2)

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function isHash(h: unknown): h is Buffer {
  return Buffer.isBuffer(h) && h.length === HASH_SIZE;
}

/** Verifies that `leaf` is leaf number `index` of the tree of `size` leaves whose root is `root`. */
export function verifyInclusion(leaf: Hash, index: number, size: number, proof: readonly Hash[], root: Hash): boolean {
  if (!isHash(leaf) || !isHash(root) || !proof.every(isHash)) return false;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/**
 * Verifies that the tree of `from` leaves with root `fromRoot` is a prefix of the tree of `to` leaves with root
 * `toRoot`. The trivial cases the RFC's algorithm excludes are accepted with an empty proof: a tree is consistent
 * with itself, and the empty tree with every tree.
 */
export function verifyConsistency(from: number, to: number, fromRoot: Hash, toRoot: Hash, proof: readonly Hash[]): boolean {
  if (!isHash(fromRoot) || !isHash(toRoot) || !proof.every(isHash)) return false;
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || from > to) return false;
  if (from === to) return proof.length === 0 && fromRoot.equals(toRoot);
  if (from === 0) return proof.length === 0 && fromRoot.equals(EMPTY_ROOT);
  if (proof.length === 0) return false;
  const path = [...proof];
  // A power-of-two first tree is itself a full subtree of the second: the RFC prepends its root.
  if (isPowerOfTwo(from)) path.unshift(fromRoot);
  let fn = from - 1;
  let sn = to - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(fromRoot) && sr.equals(toRoot) && sn === 0;
}
