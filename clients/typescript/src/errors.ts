/** Typed errors: what the service refused (with its stable code), and why an approval did not let an action run. */
import type { Approval } from './approval.js';

/** The service's stable error codes (README, API). Branch on `code`, never on the message. */
export type CountersignErrorCode =
  | 'validation_failed'
  | 'invalid_json'
  | 'invalid_cursor'
  | 'invalid_url'
  | 'callbacks_disabled'
  | 'bad_request'
  | 'pinned_field'
  | 'callback_host_refused'
  | 'unauthorized'
  | 'forbidden'
  | 'self_approval'
  | 'not_eligible'
  | 'unknown_approver'
  | 'approver_mismatch'
  | 'not_found'
  | 'route_not_found'
  | 'idempotency_conflict'
  | 'already_decided'
  | 'already_voted'
  | 'expired'
  | 'not_approved'
  | 'outcome_already_reported'
  | 'grant_already_used'
  | 'grant_expired'
  | 'reason_required'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'too_many_pending'
  | 'too_many_long_polls'
  | 'too_many_auth_failures'
  | 'service_unavailable'
  | 'internal_error'
  // A code this client version does not know yet; the service may add codes.
  | (string & {});

/** An error answer from the service: `{ error: { code, message, field?, details? } }` with its HTTP status. */
export class CountersignError extends Error {
  override readonly name = 'CountersignError';
  constructor(
    /** HTTP status (0 when the service could not be reached). */
    readonly status: number,
    /** The service's stable error code. */
    readonly code: CountersignErrorCode,
    message: string,
    /** The offending input field, e.g. `requester.type`. */
    readonly field?: string,
    readonly details?: Record<string, unknown>,
    /** Seconds the service asked to wait before retrying (429, 503). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Thrown by {@link CountersignClient.guard} when the action may not run: denied, expired, cancelled or still pending. */
export class ApprovalNotGrantedError extends Error {
  override readonly name = 'ApprovalNotGrantedError';
  constructor(readonly approval: Approval) {
    super(approval.summary);
  }
}

/** Thrown by {@link CountersignClient.guard} when an approval's grant does not verify: the action is not run. */
export class GrantVerificationError extends Error {
  override readonly name = 'GrantVerificationError';
  constructor(
    message: string,
    readonly approval: Approval,
  ) {
    super(message);
  }
}
