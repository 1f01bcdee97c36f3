/**
 * RFC 9162 Merkle hashing and proofs against the Certificate Transparency reference vectors (the RFC 6962 test tree
 * every implementation checks itself against), then exhaustively: every inclusion proof and every consistency proof
 * of trees of 1..64 leaves verifies, computed from stored hashes only, and tampered proofs do not.
 */
import {
  CompactTree,
  consistencyProof,
  EMPTY_ROOT,
  frontierIds,
  inclusionProof,
  isStoredLevel,
  leafHash,
  nodeHash,
  rangeHash,
  rootOf,
  storedHashesRead,
  verifyConsistency,
  verifyInclusion,
  type Hash,
  type StoredHashes,
} from '../../src/domain/merkle';

const hex = (h: Buffer) => h.toString('hex');
const unhex = (s: string) => Buffer.from(s, 'hex');

// Leaves and roots of the reference tree (RFC 6962 test data, as published by Certificate Transparency).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** A tree's stored hashes as the log store keeps them: leaves, and full subtrees at the stored levels only. */
function storeOf(leaves: Hash[]): StoredHashes {
  const stored = new Map<string, Hash>();
  const tree = new CompactTree();
  for (const l of leaves) tree.append(l, (n) => (n.level === 0 || isStoredLevel(n.level)) && stored.set(`${n.level}/${n.index}`, n.hash));
  return (level, index) => {
    const h = stored.get(`${level}/${index}`);
    if (!h) throw new Error(`hash ${level}/${index} is not stored`);
    return h;
  };
}

describe('RFC 9162 hashing', () => {
  const leaves = CT_LEAVES.map((l) => leafHash(l));

  it('hashes the empty tree, leaves and nodes with the RFC prefixes', () => {
    expect(hex(EMPTY_ROOT)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(leafHash(Buffer.alloc(0)))).toBe(CT_ROOTS[0]);
    expect(hex(nodeHash(leaves[0], leaves[1]))).toBe(CT_ROOTS[1]);
  });

  it('matches the reference root of every size 1..8, by the recursive definition and by appending', () => {
    const tree = new CompactTree();
    for (let n = 1; n <= 8; n++) {
      expect(hex(rootOf(leaves.slice(0, n)))).toBe(CT_ROOTS[n - 1]);
      tree.append(leaves[n - 1]);
      expect(hex(tree.root())).toBe(CT_ROOTS[n - 1]);
    }
  });

  it('produces the reference inclusion and consistency proofs', () => {
    const stored = storeOf(leaves);
    expect(inclusionProof(0, 8, stored).map(hex)).toEqual([
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    expect(inclusionProof(5, 8, stored).map(hex)).toEqual([
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    expect(consistencyProof(2, 8, stored).map(hex)).toEqual([
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    expect(consistencyProof(6, 8, stored).map(hex)).toEqual([
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    expect(consistencyProof(2, 5, stored).map(hex)).toEqual([
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ]);
    expect(verifyConsistency(6, 8, unhex(CT_ROOTS[5]), unhex(CT_ROOTS[7]), consistencyProof(6, 8, stored))).toBe(true);
  });
});

describe('proofs from stored hashes, trees of 1..64 leaves', () => {
  const N = 64;
  const leaves = Array.from({ length: N }, (_, i) => leafHash(Buffer.from(`{"event":${i}}`)));
  const roots = Array.from({ length: N + 1 }, (_, n) => rootOf(leaves.slice(0, n)));
  const stored = storeOf(leaves);

  it('computes every root from stored hashes alone', () => {
    for (let n = 0; n <= N; n++) expect(hex(rangeHash(0, n, stored))).toBe(hex(roots[n]));
  });

  it('every inclusion proof verifies, and a wrong leaf, index, size or proof does not', () => {
    for (let n = 1; n <= N; n++) {
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, n, stored);
        expect(verifyInclusion(leaves[i], i, n, proof, roots[n])).toBe(true);
        expect(verifyInclusion(leaves[(i + 1) % N], i, n, proof, roots[n])).toBe(false);
        if (n > 1) {
          expect(verifyInclusion(leaves[i], (i + 1) % n, n, proof, roots[n])).toBe(false);
          expect(verifyInclusion(leaves[i], i, n, proof.slice(0, -1), roots[n])).toBe(false);
          const flipped = proof.map((p) => Buffer.from(p));
          flipped[0][0] ^= 1;
          expect(verifyInclusion(leaves[i], i, n, flipped, roots[n])).toBe(false);
        }
        expect(verifyInclusion(leaves[i], i, n, [...proof, leaves[0]], roots[n])).toBe(false);
      }
    }
  });

  it('every consistency proof verifies, and tampered ones do not', () => {
    for (let n = 1; n <= N; n++) {
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(m, n, stored);
        expect(verifyConsistency(m, n, roots[m], roots[n], proof)).toBe(true);
        if (m > 0 && m < n) {
          expect(verifyConsistency(m, n, roots[m], roots[n], proof.slice(0, -1))).toBe(false);
          expect(verifyConsistency(m, n, roots[m], roots[n], [...proof, leaves[0]])).toBe(false);
          const flipped = proof.map((p) => Buffer.from(p));
          flipped[flipped.length - 1][5] ^= 1;
          expect(verifyConsistency(m, n, roots[m], roots[n], flipped)).toBe(false);
          // A different old root (another history) is not a prefix.
          expect(verifyConsistency(m, n, roots[m === 1 ? 2 : m - 1], roots[n], proof)).toBe(false);
        }
      }
    }
  });

  it('a tree with one leaf changed is consistent with none of the original checkpoints after that leaf', () => {
    const forged = [...leaves];
    forged[20] = leafHash(Buffer.from('{"event":"forged"}'));
    const forgedStore = storeOf(forged);
    for (let m = 21; m < N; m++) expect(verifyConsistency(m, N, roots[m], rangeHash(0, N, forgedStore), consistencyProof(m, N, forgedStore))).toBe(false);
    for (let m = 1; m <= 20; m++) expect(verifyConsistency(m, N, roots[m], rangeHash(0, N, forgedStore), consistencyProof(m, N, forgedStore))).toBe(true);
  });
});

describe('stored levels', () => {
  it('keeps only leaves and every 8th level, yet answers proofs in a 1,000-leaf tree', () => {
    const leaves = Array.from({ length: 1000 }, (_, i) => leafHash(Buffer.from(String(i))));
    const stored = storeOf(leaves);
    const root = rootOf(leaves);
    for (const i of [0, 255, 256, 511, 777, 999]) expect(verifyInclusion(leaves[i], i, 1000, inclusionProof(i, 1000, stored), root)).toBe(true);
    expect(verifyConsistency(300, 1000, rootOf(leaves.slice(0, 300)), root, consistencyProof(300, 1000, stored))).toBe(true);
    // A proof reads a bounded number of stored hashes, which the store fetches in one query.
    expect(storedHashesRead((s) => inclusionProof(777, 1000, s)).length).toBeLessThanOrEqual(2 * 256);
  });

  it('resumes appending from the right edge of a stored tree', () => {
    const leaves = Array.from({ length: 300 }, (_, i) => leafHash(Buffer.from(String(i))));
    const stored = storeOf(leaves.slice(0, 213));
    const resumed = new CompactTree(213, frontierIds(213).map((id) => rangeHash(id.index * 2 ** id.level, (id.index + 1) * 2 ** id.level, stored)));
    for (const l of leaves.slice(213)) resumed.append(l);
    expect(hex(resumed.root())).toBe(hex(rootOf(leaves)));
  });
});
