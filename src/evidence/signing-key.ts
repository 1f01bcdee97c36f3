/**
 * The service's Ed25519 signing key: it signs audit checkpoints (signed notes) and checkpoint webhooks now, and
 * approval grants (JWS, EdDSA) later, which is why it exposes node:crypto `KeyObject`s (what `jose` takes) and a JWK
 * thumbprint `kid` besides the signed-note key ID.
 *
 * The key never lives in PostgreSQL: whoever controls the database must not be able to sign. It comes from
 * SIGNING_KEY_FILE (PEM, PKCS#8) or SIGNING_KEY (base64 PKCS#8 DER, a base64 32-byte seed, PEM text, or Go's
 * `PRIVATE+KEY+…` note signer key). With neither, a key is generated once into `<DATA_DIR>/signing-key.pem` (mode 0600)
 * so the quick start needs no setting; its public key is logged. Retired public keys (SIGNING_KEY_RETIRED) stay
 * trusted for verification after a rotation.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ed25519RawPublicKey,
  NoteError,
  noteKeyId,
  parseSignerKey,
  parseVerifierKey,
  verifierKeyString,
  type NoteSigner,
  type NoteVerifier,
} from '../domain/signed-note';

/** PKCS#8 DER header of an Ed25519 private key: the 32-byte seed follows. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export class SigningKeyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SigningKeyError';
  }
}

export interface SigningKey {
  /** For signing with node:crypto or `jose` (EdDSA). Never logged, never stored in the database. */
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The raw 32-byte Ed25519 public key. */
  publicKeyRaw: Buffer;
  /** RFC 7638 JWK thumbprint (base64url): the key id of JWS headers and webhook signatures. */
  kid: string;
  publicJwk: JsonWebKey;
  /** Where the key came from, for the start-up log. */
  source: 'file' | 'env' | 'generated';
  file?: string;
  /** Ed25519 signature over `message`. */
  sign(message: Buffer): Buffer;
  /** A signed-note signer under `name` (a checkpoint's key name is the log's origin). */
  noteSigner(name: string): NoteSigner;
  /** The verifier key string (`name+id+base64`) auditors configure to trust this key under `name`. */
  verifierKey(name: string): string;
}

/** A public key trusted for verification: the current one, or one retired by a rotation. */
export interface TrustedKey {
  publicKeyRaw: Buffer;
  kid: string;
  /** The name it signs checkpoints under, when known (a verifier key string carries it). */
  name?: string;
  status: 'current' | 'retired';
}

/** RFC 7638 thumbprint of an Ed25519 public key: SHA-256 of {"crv","kty","x"} in that order, base64url. */
export function jwkThumbprint(publicKeyRaw: Buffer): string {
  const canonical = `{"crv":"Ed25519","kty":"OKP","x":"${publicKeyRaw.toString('base64url')}"}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

function fromPrivateKey(privateKey: KeyObject, source: SigningKey['source'], file?: string): SigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`the signing key must be Ed25519, not ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  const publicKeyRaw = ed25519RawPublicKey(publicKey);
  return {
    privateKey,
    publicKey,
    publicKeyRaw,
    kid: jwkThumbprint(publicKeyRaw),
    publicJwk: publicKey.export({ format: 'jwk' }),
    source,
    file,
    sign: (message) => sign(null, message, privateKey),
    noteSigner: (name) => ({ name, keyId: noteKeyId(name, publicKeyRaw), sign: (message) => sign(null, message, privateKey) }),
    verifierKey: (name) => verifierKeyString(name, publicKeyRaw),
  };
}

function privateKeyFromSeed(seed: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** Parses SIGNING_KEY: PEM text, Go's `PRIVATE+KEY+…`, or base64 of a PKCS#8 DER key or of a 32-byte seed. */
export function parseSigningKey(value: string): KeyObject {
  const v = value.trim();
  try {
    // A PEM squeezed into one environment line usually has literal \n escapes.
    if (v.startsWith('-----BEGIN')) return createPrivateKey(v.replace(/\\n/g, '\n'));
    if (v.startsWith('PRIVATE+KEY+')) return privateKeyFromSeed(parseSignerKey(v).seed);
    const bytes = Buffer.from(v, 'base64');
    if (bytes.length === 32) return privateKeyFromSeed(bytes);
    return createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
  } catch (err) {
    // The message must not echo the key.
    throw new SigningKeyError('SIGNING_KEY is not an Ed25519 private key (PEM, base64 PKCS#8, base64 32-byte seed or PRIVATE+KEY+…)', { cause: err instanceof NoteError ? undefined : err });
  }
}

/** A new Ed25519 key as PKCS#8 PEM (what `openssl genpkey -algorithm ed25519` writes). */
export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
}

function readKeyFile(file: string, warn: (msg: string) => void): KeyObject {
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) warn(`the signing key file ${file} is readable by other users (mode ${mode.toString(8)}); chmod 600 it`);
  try {
    return createPrivateKey(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SigningKeyError(`${file} is not a PEM private key`, { cause: err });
  }
}

/**
 * Loads the signing key: SIGNING_KEY, else SIGNING_KEY_FILE, else `<dataDir>/signing-key.pem`, generated (mode 0600)
 * when absent. An explicit SIGNING_KEY_FILE that does not exist is an error rather than silently replaced.
 */
export function loadSigningKey(opts: {
  inlineKey?: string;
  keyFile?: string;
  dataDir: string;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}): SigningKey {
  const warn = (msg: string) => opts.log.warn({}, msg);
  if (opts.inlineKey) return fromPrivateKey(parseSigningKey(opts.inlineKey), 'env');
  if (opts.keyFile) {
    try {
      return fromPrivateKey(readKeyFile(opts.keyFile, warn), 'file', opts.keyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SigningKeyError(`SIGNING_KEY_FILE ${opts.keyFile} does not exist`);
      throw err;
    }
  }
  const file = path.resolve(opts.dataDir, 'signing-key.pem');
  try {
    return fromPrivateKey(readKeyFile(file, warn), 'file', file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // Exclusive create: when two processes start at once, one writes and the other reads what it wrote.
    writeFileSync(file, generateSigningKeyPem(), { flag: 'wx', mode: 0o600 });
    chmodSync(file, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new SigningKeyError(`cannot write a new signing key to ${file}`, { cause: err });
    return fromPrivateKey(readKeyFile(file, warn), 'file', file);
  }
  const key = fromPrivateKey(readKeyFile(file, warn), 'generated', file);
  opts.log.info(
    { file, publicKey: key.publicKeyRaw.toString('base64'), kid: key.kid },
    `generated the audit signing key in ${file}: back it up, and keep it out of the database's reach (see README, Audit trail)`,
  );
  return key;
}

/**
 * Parses SIGNING_KEY_RETIRED: comma-separated verifier keys (`name+id+base64`, as `GET /v1/audit/checkpoints` lists
 * them) or base64 raw 32-byte public keys.
 */
export function parseRetiredKeys(value: string | undefined): TrustedKey[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (s.includes('+')) {
        try {
          const v = parseVerifierKey(s);
          return { publicKeyRaw: v.publicKey, kid: jwkThumbprint(v.publicKey), name: v.name, status: 'retired' as const };
        } catch {
          // a base64 key may contain '+': try that below
        }
      }
      const raw = Buffer.from(s, 'base64');
      if (raw.length !== 32 || raw.toString('base64') !== s) throw new SigningKeyError(`SIGNING_KEY_RETIRED: ${JSON.stringify(s.slice(0, 80))} is neither a verifier key nor a base64 Ed25519 public key`);
      return { publicKeyRaw: raw, kid: jwkThumbprint(raw), status: 'retired' as const };
    });
}

/** Note verifiers for a log `origin`: the current key and every retired one (under its own name, or the origin). */
export function noteVerifiers(keys: readonly TrustedKey[], origin: string): NoteVerifier[] {
  return keys.map((k) => {
    const name = k.name ?? origin;
    return { name, keyId: noteKeyId(name, k.publicKeyRaw), publicKey: k.publicKeyRaw };
  });
}
