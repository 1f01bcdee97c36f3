/**
 * Signed notes and checkpoints are byte-compatible with the reference implementation (Go's
 * golang.org/x/mod/sumdb/note): its published key and signature vectors are reproduced exactly, since Ed25519 is
 * deterministic. Then the checkpoint text and the log verifier: tampering with a note, a key, an event or a link is
 * reported as the right problem.
 */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { formatCheckpoint, parseCheckpoint, checkpointTextHash } from '../../src/domain/checkpoint';
import { checkCheckpoints, verifyExport, type ExportedEvent } from '../../src/domain/log-verification';
import { CompactTree, leafHash } from '../../src/domain/merkle';
import {
  ed25519PublicKey,
  ed25519RawPublicKey,
  noteKeyId,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifierKeyString,
  type NoteSigner,
} from '../../src/domain/signed-note';

// Vectors of golang.org/x/mod/sumdb/note's tests.
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

/** An Ed25519 signer from a 32-byte seed (PKCS#8 DER header + seed). */
function signerFromSeed(name: string, seed: Buffer): NoteSigner & { publicKey: Buffer } {
  const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
  const publicKey = ed25519RawPublicKey(createPublicKey(privateKey));
  return { name, keyId: noteKeyId(name, publicKey), publicKey, sign: (m) => sign(null, m, privateKey) };
}

describe('signed notes (c2sp.org/signed-note)', () => {
  const { name, seed } = parseSignerKey(PETER_SKEY);
  const peter = signerFromSeed(name, seed);

  it('derives the key ID and verifier key of the reference vectors', () => {
    expect(peter.keyId).toBe(0xc74f20a3);
    expect(verifierKeyString(name, peter.publicKey)).toBe(PETER_VKEY);
    expect(parseVerifierKey(PETER_VKEY)).toMatchObject({ name: 'PeterNeumann', keyId: 0xc74f20a3 });
    expect(ed25519RawPublicKey(ed25519PublicKey(peter.publicKey)).equals(peter.publicKey)).toBe(true);
  });

  it('signs byte for byte like the reference implementation (em dash, key ID, base64)', () => {
    expect(signNote(TEXT, [peter])).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('opens with a trusted key, ignores unknown keys, refuses bad signatures and unsigned notes', () => {
    const peterV = parseVerifierKey(PETER_VKEY);
    const enochV = parseVerifierKey(ENOCH_VKEY);
    expect(openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peterV]).verifiedBy).toEqual([peterV]);
    expect(openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peterV, enochV]).verifiedBy).toEqual([peterV, enochV]);
    expect(() => openNote(`${TEXT}\n${PETER_SIG}`, [enochV])).toThrow(expect.objectContaining({ code: 'unverified_note' }));
    const broken = `${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
    expect(() => openNote(broken, [peterV])).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
    expect(() => openNote(`${TEXT.replace('answer', 'answers')}\n${PETER_SIG}`, [peterV])).toThrow(expect.objectContaining({ code: 'invalid_signature' }));
    for (const bad of [TEXT, `${TEXT}\n`, `${TEXT}\n${PETER_SIG.slice(0, -1)}`, `\u0001${TEXT}\n${PETER_SIG}`, `${TEXT}\n${PETER_SIG}Unexpected line.\n`, `${TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`]) {
      expect(() => openNote(bad, [peterV])).toThrow(expect.objectContaining({ code: 'malformed_note' }));
    }
  });

  it('refuses mangled verifier keys', () => {
    expect(() => parseVerifierKey(PETER_VKEY.replace('c74f20a3', 'c74f20a4'))).toThrow();
    expect(() => parseVerifierKey(PETER_VKEY.replace('PeterNeumann', 'PeterNeuman'))).toThrow();
    expect(() => parseVerifierKey(PETER_VKEY.replace('+ARpc', '+AhRpc'))).toThrow();
    expect(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==')).toThrow();
  });
});

describe('checkpoints and the log verifier', () => {
  const signer = signerFromSeed('audit.example.com/log', Buffer.alloc(32, 7));
  const key = parseVerifierKey(verifierKeyString(signer.name, signer.publicKey));
  const events: ExportedEvent[] = Array.from({ length: 12 }, (_, i) => ({ seq: String(100 + i), leafIndex: String(i), payload: `{"n":${i},"who":"bob@example.com"}` }));

  /** Checkpoints after leaves 3, 7 and 12, as the sealer writes them. */
  function checkpointsOf(evs: ExportedEvent[], sizes = [3, 7, 12], s: NoteSigner = signer): string[] {
    const tree = new CompactTree();
    const notes: string[] = [];
    let prev: { treeSize: number; textHash: Buffer } | null = null;
    for (const e of evs) {
      tree.append(leafHash(e.payload));
      if (!sizes.includes(tree.size)) continue;
      const text = formatCheckpoint({ origin: 'audit.example.com/log', treeSize: tree.size, rootHash: tree.root(), time: new Date('2026-11-28T12:00:00Z'), prev });
      notes.push(signNote(text, [s]));
      prev = { treeSize: tree.size, textHash: checkpointTextHash(text) };
    }
    return notes;
  }
  const notes = checkpointsOf(events);

  it('formats a tlog-checkpoint: origin, size, base64 root, then the time and prev extension lines', () => {
    const text = notes[1].slice(0, notes[1].indexOf('\n\n') + 1);
    const lines = text.split('\n');
    expect(lines[0]).toBe('audit.example.com/log');
    expect(lines[1]).toBe('7');
    expect(Buffer.from(lines[2], 'base64')).toHaveLength(32);
    expect(lines[3]).toBe('time 2026-11-28T12:00:00.000Z');
    expect(lines[4]).toMatch(/^prev 3 [A-Za-z0-9+/]{43}=$/);
    expect(parseCheckpoint(text)).toMatchObject({ origin: 'audit.example.com/log', treeSize: 7, prev: { treeSize: 3 } });
    expect(notes[1]).toContain('\n\n\u2014 audit.example.com/log ');
  });

  it('accepts an intact export', () => {
    expect(verifyExport(events, notes, [key])).toMatchObject({ ok: true, checked: 12, treeSize: 12, checkpoints: 3, firstProblem: null });
  });

  it('names the rewritten event when its recorded leaf hash was left alone', () => {
    const tampered = events.map((e) => ({ ...e, leafHash: leafHash(e.payload).toString('base64') }));
    tampered[5] = { ...tampered[5], payload: tampered[5].payload.replace('bob', 'carol') };
    expect(verifyExport(tampered, notes, [key]).firstProblem).toMatchObject({ problem: 'leaf_hash_mismatch', seq: '105', leafIndex: '5' });
  });

  it('names the first event of the first checkpoint the events no longer rebuild, when every hash was re-done', () => {
    const tampered = events.map((e) => ({ ...e }));
    tampered[5].payload = tampered[5].payload.replace('bob', 'carol');
    expect(verifyExport(tampered, notes, [key]).firstProblem).toMatchObject({ problem: 'root_mismatch', checkpoint: 7, leafIndex: '3', seq: '103' });
    // Deleting events and renumbering the rest (later events fill the gap) is the same kind of difference…
    const later = [{ seq: '112', leafIndex: null, payload: '{"n":12}' }, { seq: '113', leafIndex: null, payload: '{"n":13}' }];
    const deleted = [...events, ...later].filter((e) => e.seq !== '108' && e.seq !== '109').map((e, i) => ({ ...e, leafIndex: String(i) }));
    expect(verifyExport(deleted, notes, [key]).firstProblem).toMatchObject({ problem: 'root_mismatch', checkpoint: 12, leafIndex: '7', seq: '107' });
    // …and a log cut short is missing the leaves its last checkpoint signed.
    expect(verifyExport(events.slice(0, 10), notes, [key]).firstProblem).toMatchObject({ problem: 'leaf_missing', leafIndex: '10', checkpoint: 12 });
    // Without renumbering, the gap itself is named.
    expect(verifyExport(events.filter((e) => e.seq !== '108'), notes, [key]).firstProblem).toMatchObject({ problem: 'leaf_missing', leafIndex: '8' });
  });

  it('refuses checkpoints signed by another key, forged ones, and broken links', () => {
    const other = signerFromSeed('audit.example.com/log', Buffer.alloc(32, 9));
    expect(verifyExport(events, checkpointsOf(events, [3, 7, 12], other), [key]).firstProblem).toMatchObject({ problem: 'unknown_key' });
    const forged = notes[2].replace('\n12\n', '\n13\n');
    expect(verifyExport(events, [notes[0], notes[1], forged], [key]).firstProblem).toMatchObject({ problem: 'bad_signature', checkpoint: 13 });
    // A checkpoint from another history of the same log, validly signed, does not link.
    const otherHistory = checkpointsOf(events.map((e, i) => (i === 4 ? { ...e, payload: '{"forged":true}' } : e)));
    expect(checkCheckpoints([notes[0], otherHistory[1], notes[2]], [key], { complete: false }).problem).toMatchObject({ problem: 'prev_mismatch', checkpoint: 12 });
    // The database must hold every checkpoint; a published set may have gaps.
    expect(checkCheckpoints([notes[0], notes[2]], [key], { complete: true }).problem).toMatchObject({ problem: 'checkpoint_missing', checkpoint: 7 });
    expect(checkCheckpoints([notes[0], notes[2]], [key], { complete: false }).problem).toBeNull();
    // A rotated key: checkpoints signed by either trusted key verify.
    const mixed = [notes[0], notes[1], checkpointsOf(events, [3, 7, 12], other)[2]];
    const otherKey = parseVerifierKey(verifierKeyString(other.name, other.publicKey));
    expect(checkCheckpoints(mixed, [key, otherKey], { complete: true }).problem).toBeNull();
  });

  it('counts events beyond the latest checkpoint as not sealed yet', () => {
    expect(verifyExport([...events, { seq: '200', leafIndex: null, payload: '{}' }], notes.slice(0, 2), [key])).toMatchObject({ ok: true, checked: 7, treeSize: 7, unsealed: 6 });
  });
});
