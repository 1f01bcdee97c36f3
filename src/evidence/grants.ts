/**
 * Signing and checking approval grants (src/domain/grant.ts) and publishing the keys to check them with: compact JWS,
 * EdDSA with the service's Ed25519 key (src/evidence/signing-key.ts), through `jose`. The JWKS lists the current key
 * and every retired one, so grants issued before a rotation still verify. Result callbacks are signed here too, as a
 * detached JWS over the body that any receiver checks against the same JWKS.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify, jwtVerify, SignJWT, type JWK } from 'jose';
import { AppError } from '../domain/app-error';
import { GRANT_TYPE, grantClaims, type ApprovedRequest, type GrantClaims } from '../domain/grant';
import type { SigningKey, TrustedKey } from './signing-key';

export interface Jwks {
  keys: JWK[];
}

export interface GrantAuthority {
  /** The grant of an approved request (deterministic: the same request gives the same JWS while the key is the same). */
  issue(request: ApprovedRequest): Promise<string>;
  /**
   * Checks a grant's signature (current or retired key) and its time window.
   * @throws AppError `invalid_grant` (not ours, tampered, not a grant) or `grant_expired`.
   */
  verify(grant: string, now?: Date): Promise<GrantClaims>;
  /** Detached JWS (`header..signature`) over `body`, for the `countersign-jws` header of a callback. */
  signDetached(body: string): Promise<string>;
  /** Compact JWS carrying `payload`, of type `typ` (an evidence pack's signed manifest). */
  sign(payload: Uint8Array, typ: string): Promise<string>;
  jwks(): Jwks;
}

function publicJwk(raw: Buffer, kid: string): JWK {
  return { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url'), kid, alg: 'EdDSA', use: 'sig' };
}

function keyObjectOf(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

export function createGrantAuthority(deps: { key: SigningKey; retiredKeys: readonly TrustedKey[]; issuer: string; clock?: () => Date }): GrantAuthority {
  const clock = deps.clock ?? (() => new Date());
  const trusted = [{ publicKeyRaw: deps.key.publicKeyRaw, kid: deps.key.kid }, ...deps.retiredKeys];
  const byKid = new Map(trusted.map((k) => [k.kid, keyObjectOf(k.publicKeyRaw)]));
  const jwks: Jwks = { keys: trusted.map((k) => publicJwk(k.publicKeyRaw, k.kid)) };

  return {
    async issue(request) {
      const claims = grantClaims(request, deps.issuer);
      return new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'EdDSA', kid: deps.key.kid, typ: GRANT_TYPE })
        .sign(deps.key.privateKey);
    },

    async verify(grant, now = clock()) {
      const invalid = (why: string) => new AppError('invalid_grant', `Invalid field \`grant\`: ${why}.`, { field: 'grant' });
      let result;
      try {
        result = await jwtVerify(
          grant,
          async (header) => {
            const key = header.kid ? byKid.get(header.kid) : undefined;
            if (!key) throw invalid('it was not signed by a key this service trusts');
            return key;
          },
          { algorithms: ['EdDSA'], typ: GRANT_TYPE, issuer: deps.issuer, currentDate: now, clockTolerance: 0 },
        );
      } catch (err) {
        if (err instanceof AppError) throw err;
        const code = (err as { code?: string }).code;
        if (code === 'ERR_JWT_EXPIRED') throw new AppError('grant_expired', 'This grant\'s execution window has ended; ask for approval again.', { field: 'grant' });
        throw invalid(code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? 'its signature does not verify' : 'it is not a Countersign grant');
      }
      return result.payload as unknown as GrantClaims;
    },

    async signDetached(body) {
      const jws = await new CompactSign(new TextEncoder().encode(body)).setProtectedHeader({ alg: 'EdDSA', kid: deps.key.kid }).sign(deps.key.privateKey);
      const [header, , signature] = jws.split('.');
      return `${header}..${signature}`;
    },

    sign: (payload, typ) => new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA', kid: deps.key.kid, typ }).sign(deps.key.privateKey),

    jwks: () => jwks,
  };
}

/** Verifies a detached callback signature against a JWKS (what a receiver does; used by tests and the CLI). */
export async function verifyDetached(detached: string, body: string, jwks: Jwks): Promise<boolean> {
  const [header, empty, signature] = detached.split('.');
  if (empty !== '' || !header || !signature) return false;
  try {
    await compactVerify(`${header}.${Buffer.from(body).toString('base64url')}.${signature}`, async (h) => {
      const jwk = jwks.keys.find((k) => k.kid === h.kid);
      if (!jwk) throw new Error('unknown key');
      return createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    });
    return true;
  } catch {
    return false;
  }
}
