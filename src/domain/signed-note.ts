/**
 * Signed notes (c2sp.org/signed-note) with Ed25519 keys, the envelope of every audit checkpoint: a text ending in a
 * newline, a blank line, then one line per signature, `— <key name> <base64(4-byte key ID || signature)>` (U+2014 EM
 * DASH). Key IDs and verifier keys are the ones Go's golang.org/x/mod/sumdb/note and the transparency-dev tools use:
 *
 *   key ID       = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
 *   verifier key = <name>+<key ID, 8 hex digits>+<base64(0x01 || public key)>
 *
 * Pure code (node:crypto only): signing takes a signer function, so private keys stay with their owner
 * (src/evidence/signing-key.ts).
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';

/** Signature type byte of Ed25519 in signed notes. */
const ALG_ED25519 = 0x01;
const EM_DASH = '\u2014';
/** SPKI DER header of an Ed25519 public key: the raw 32 bytes follow. */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** Verifiers must accept at least 16 signatures; more than this is refused as malformed. */
const MAX_SIGNATURES = 100;

export class NoteError extends Error {
  constructor(
    readonly code: 'malformed_note' | 'unverified_note' | 'invalid_signature' | 'malformed_key',
    message: string,
  ) {
    super(message);
    this.name = 'NoteError';
  }
}

/** An Ed25519 key as a note verifier knows it. */
export interface NoteVerifier {
  name: string;
  /** The 4-byte key ID as an unsigned integer. */
  keyId: number;
  publicKey: Buffer;
}

/** What signing needs: the key's name and ID, and a function that signs bytes with its private key. */
export interface NoteSigner {
  name: string;
  keyId: number;
  sign(message: Buffer): Buffer;
}

/** A signature line of a note. */
export interface NoteSignature {
  name: string;
  keyId: number;
  /** The signature bytes after the key ID. */
  signature: Buffer;
}

/** Key names must be non-empty, without Unicode spaces or `+`. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !/[\u0000-\u001f]/.test(name);
}

export function noteKeyId(name: string, publicKey: Buffer): number {
  const digest = createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, ALG_ED25519])).update(publicKey).digest();
  return digest.readUInt32BE(0);
}

export function keyIdHex(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

/** `<name>+<key ID>+<base64(0x01 || public key)>`, the string auditors configure to trust a key. */
export function verifierKeyString(name: string, publicKey: Buffer): string {
  if (!isValidKeyName(name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== 32) throw new NoteError('malformed_key', 'an Ed25519 public key has 32 bytes');
  return `${name}+${keyIdHex(noteKeyId(name, publicKey))}+${Buffer.concat([Buffer.from([ALG_ED25519]), publicKey]).toString('base64')}`;
}

function strictBase64(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

/** Parses a verifier key string; refuses a key whose ID does not match its name and public key. */
export function parseVerifierKey(s: string): NoteVerifier {
  const parts = s.trim().split('+');
  // The base64 part may itself contain '+': the name and ID are the first two fields.
  if (parts.length < 3) throw new NoteError('malformed_key', 'a verifier key reads <name>+<key id>+<base64 key>');
  const [name, idHex] = parts;
  const key = strictBase64(parts.slice(2).join('+'));
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex) || !key) throw new NoteError('malformed_key', 'a verifier key reads <name>+<key id>+<base64 key>');
  if (key.length !== 33 || key[0] !== ALG_ED25519) throw new NoteError('malformed_key', 'only Ed25519 verifier keys (type 0x01, 32 bytes) are supported');
  const publicKey = key.subarray(1);
  const keyId = parseInt(idHex, 16);
  if (noteKeyId(name, publicKey) !== keyId) throw new NoteError('malformed_key', 'the key ID does not match the key name and public key');
  return { name, keyId, publicKey };
}

/** Parses Go's `PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)>` signer key: name and 32-byte Ed25519 seed. */
export function parseSignerKey(s: string): { name: string; seed: Buffer } {
  const parts = s.trim().split('+');
  if (parts.length < 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw new NoteError('malformed_key', 'a signer key reads PRIVATE+KEY+<name>+<key id>+<base64 key>');
  const [, , name, idHex] = parts;
  const key = strictBase64(parts.slice(4).join('+'));
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex) || !key || key.length !== 33 || key[0] !== ALG_ED25519) {
    throw new NoteError('malformed_key', 'a signer key reads PRIVATE+KEY+<name>+<key id>+<base64(0x01 || 32-byte seed)>');
  }
  return { name, seed: key.subarray(1) };
}

/** Key objects of the raw keys verifiers hold, so checking a long run of checkpoints parses each key once. */
const keyObjects = new WeakMap<Buffer, KeyObject>();

/** A node:crypto public key object from the raw 32 bytes. */
export function ed25519PublicKey(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new NoteError('malformed_key', 'an Ed25519 public key has 32 bytes');
  let key = keyObjects.get(raw);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    keyObjects.set(raw, key);
  }
  return key;
}

/** The raw 32 bytes of an Ed25519 public key object. */
export function ed25519RawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ed25519' || der.length !== 44) throw new NoteError('malformed_key', 'not an Ed25519 public key');
  return der.subarray(12);
}

function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('malformed_note', 'note text must end with a newline');
  // Valid UTF-8 is given by the string type; no control characters other than newline.
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError('malformed_note', 'note text contains a control character');
}

/** The text followed by a blank line and one signature line per signer. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  if (signers.length === 0) throw new NoteError('malformed_note', 'a note needs at least one signature');
  const message = Buffer.from(text, 'utf8');
  const lines = signers.map((s) => {
    if (!isValidKeyName(s.name)) throw new NoteError('malformed_key', `invalid key name ${JSON.stringify(s.name)}`);
    const id = Buffer.alloc(4);
    id.writeUInt32BE(s.keyId);
    return `${EM_DASH} ${s.name} ${Buffer.concat([id, s.sign(message)]).toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

/** Splits a signed note into its text and signature lines, checking the syntax only. */
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } {
  if (!note.endsWith('\n')) throw new NoteError('malformed_note', 'a signed note ends with a newline');
  // The text ends at the LAST blank line: the text itself may contain blank lines.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed_note', 'no blank line between the text and its signatures');
  const text = note.slice(0, split + 1);
  checkText(text);
  const sigLines = note.slice(split + 2, -1).split('\n');
  if (sigLines.length > MAX_SIGNATURES) throw new NoteError('malformed_note', 'too many signatures');
  const signatures = sigLines.map((line) => {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    const bytes = m ? strictBase64(m[2]) : undefined;
    if (!m || !isValidKeyName(m[1]) || !bytes || bytes.length < 5) throw new NoteError('malformed_note', `malformed signature line ${JSON.stringify(line)}`);
    return { name: m[1], keyId: bytes.readUInt32BE(0), signature: bytes.subarray(4) };
  });
  return { text, signatures };
}

/**
 * Opens a signed note: returns its text and which known keys signed it. Signatures by unknown keys are ignored (they
 * allow rotation and cosigning); a signature by a known key that fails is an error; no verified signature is an
 * error. Matches the rules of c2sp.org/signed-note.
 */
export function openNote(note: string, verifiers: readonly NoteVerifier[]): { text: string; verifiedBy: NoteVerifier[] } {
  const { text, signatures } = parseNote(note);
  const message = Buffer.from(text, 'utf8');
  const verifiedBy: NoteVerifier[] = [];
  for (const sig of signatures) {
    const known = verifiers.filter((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (known.length === 0) continue;
    const ok = known.some((v) => sig.signature.length === 64 && verifySignature(null, message, ed25519PublicKey(v.publicKey), sig.signature));
    if (!ok) throw new NoteError('invalid_signature', `invalid signature for key ${sig.name}+${keyIdHex(sig.keyId)}`);
    if (!verifiedBy.includes(known[0])) verifiedBy.push(known[0]);
  }
  if (verifiedBy.length === 0) throw new NoteError('unverified_note', 'the note has no signature by a trusted key');
  return { text, verifiedBy };
}
