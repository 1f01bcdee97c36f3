/**
 * Approval grants: what Countersign hands the agent once a request is approved, so that the system that finally runs
 * the action can check on its own that exactly this action was approved, by whom, until when, and only once. A grant
 * is a compact JWS (EdDSA) whose claims bind the request id, a hash of what the agent submitted, the policy and the
 * approvers, and an execution window distinct from the approval's own expiry. This module is the claims' definition;
 * signing lives in src/evidence/grants.ts.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';

/** The JWS `typ` of a grant. */
export const GRANT_TYPE = 'countersign-grant+jwt';

/** How long a grant may be used after the decision when its rule says nothing (15 minutes). */
export const DEFAULT_GRANT_TTL_SECONDS = 900;

/** What a grant's hash covers: the fields of the intake body that say what is to be done, to what, for whom. */
export interface GrantSubject {
  action: string;
  resource: string;
  context?: Record<string, unknown> | null;
  requester: Record<string, unknown>;
  onBehalfOf?: Record<string, unknown> | null;
}

/**
 * base64url(SHA-256(JCS({action, resource, context, requester, onBehalfOf}))) over the values exactly as the agent
 * submitted them (absent context and onBehalfOf as null). For our value domain (strings, finite numbers, booleans,
 * null, objects, arrays) RFC 8785 canonical JSON is JSON with object keys sorted by UTF-16 code units, which
 * {@link canonicalJson} writes. The executor computes the same from the request it is about to run.
 */
export function grantActionHash(s: GrantSubject): string {
  const subject = { action: s.action, resource: s.resource, context: s.context ?? null, requester: s.requester, onBehalfOf: s.onBehalfOf ?? null };
  return createHash('sha256').update(canonicalJson(subject), 'utf8').digest('base64url');
}

export interface GrantClaims {
  /** The service that issued it (its public base URL). */
  iss: string;
  /** The request id: one grant per approved request. */
  jti: string;
  /** The requester id. */
  sub: string;
  /** Decision time, and the end of the execution window (seconds since the epoch). */
  iat: number;
  exp: number;
  cs_action: string;
  cs_resource: string;
  cs_hash: string;
  /** SHA-256 of the policy in force when the request was decided. */
  cs_policy: string;
  cs_rule: string;
  /** Person ids of the approvers, or `["policy"]` for a routine approval. */
  cs_approvers: string[];
}

/** What the claims are derived from: the approved request as stored. */
export interface ApprovedRequest {
  id: string;
  action: string;
  resource: string;
  requesterId: string;
  actionHash: string;
  policyHash: string;
  policyRule: string;
  decidedAt: Date;
  grantTtlSeconds: number | null;
  /** Approving votes' person ids; empty for a routine approval by policy. */
  approvers: string[];
}

/**
 * The claims of a request's grant. Derived from stored facts only (the decision time starts the window), so the grant
 * can be produced again at any time, and Ed25519 signatures being deterministic, comes out byte for byte the same.
 */
export function grantClaims(r: ApprovedRequest, issuer: string): GrantClaims {
  const iat = Math.floor(r.decidedAt.getTime() / 1000);
  return {
    iss: issuer,
    jti: r.id,
    sub: r.requesterId,
    iat,
    exp: iat + (r.grantTtlSeconds ?? DEFAULT_GRANT_TTL_SECONDS),
    cs_action: r.action,
    cs_resource: r.resource,
    cs_hash: r.actionHash,
    cs_policy: r.policyHash,
    cs_rule: r.policyRule,
    cs_approvers: r.approvers.length ? [...new Set(r.approvers)] : ['policy'],
  };
}
