/**
 * Approval grants, checked offline: the service signs a compact JWS (EdDSA, `typ: countersign-grant+jwt`) when a
 * request is approved; its `cs_hash` binds it to exactly what the agent submitted. Verifying it against the service's
 * JWKS proves the approval came from the service and covers this action, without trusting the transport.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { canonicalJson } from './canonical-json.js';
import type { SubmitRequestInput } from './generated/api-types.js';

export const GRANT_TYPE = 'countersign-grant+jwt';

/** The claims of a grant. */
export interface GrantClaims extends JWTPayload {
  jti: string;
  sub: string;
  cs_action: string;
  cs_resource: string;
  cs_hash: string;
  cs_policy: string;
  cs_rule: string;
  cs_approvers: string[];
}

/** What the grant is checked against. */
export interface GrantExpectation {
  requestId: string;
  /** The body exactly as submitted to `POST /v1/requests`. */
  submitted: SubmitRequestInput;
  /** The service's base URL as it names itself (`iss`); not checked when left out. */
  issuer?: string;
}

/** The outcome of a grant check, as {@link CountersignClient.guard} reports it. */
export type GrantCheck = { verified: true; claims: GrantClaims; used: boolean } | { verified: false; reason: string };

function base64url(bytes: ArrayBuffer): string {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * `cs_hash`: base64url(SHA-256(JCS of `{ action, resource, context, requester, onBehalfOf }`)) as submitted, with
 * `context` and `onBehalfOf` null when absent.
 */
export async function grantHash(submitted: SubmitRequestInput): Promise<string> {
  const bound = { action: submitted.action, resource: submitted.resource, context: submitted.context ?? null, requester: submitted.requester, onBehalfOf: submitted.onBehalfOf ?? null };
  return base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonicalJson(bound))));
}

/** The service's public keys, fetched once and cached by jose (refetched for an unknown `kid`). */
export function remoteKeys(jwksUrl: string): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(jwksUrl));
}

/**
 * Verifies a grant's signature, type, lifetime and binding to the submitted request. Throws an Error naming the
 * first mismatch; resolves with the claims.
 */
export async function verifyGrant(grant: string, keys: JWTVerifyGetKey, expect: GrantExpectation): Promise<GrantClaims> {
  const { payload } = await jwtVerify(grant, keys, { algorithms: ['EdDSA'], typ: GRANT_TYPE, ...(expect.issuer ? { issuer: expect.issuer } : {}) });
  const claims = payload as GrantClaims;
  if (claims.jti !== expect.requestId) throw new Error(`the grant is for request ${claims.jti}, not ${expect.requestId}`);
  if (claims.cs_action !== expect.submitted.action) throw new Error(`the grant is for action ${claims.cs_action}, not ${expect.submitted.action}`);
  if (claims.cs_resource !== expect.submitted.resource) throw new Error(`the grant is for resource ${claims.cs_resource}, not ${expect.submitted.resource}`);
  if (claims.cs_hash !== (await grantHash(expect.submitted))) throw new Error('the grant does not cover this request body (cs_hash differs)');
  return claims;
}
