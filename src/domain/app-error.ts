/**
 * The one error type the product raises on purpose, and the catalogue of its codes. A code is stable API: clients,
 * tests and chat replies branch on it, never on `message`. The domain says what KIND of problem a code is; how that
 * is shown is decided at the edges: the HTTP status in src/http/error-status.ts, the chat wording in src/channels/.
 */

/** What kind of problem an error code describes, independent of any transport. */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'unprocessable'
  | 'too_large'
  | 'unsupported_media'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** Every code the product raises, with its kind. Adding a code here is all it takes for every edge to map it. */
export const ERROR_CODES = {
  validation_failed: 'invalid',
  invalid_json: 'invalid',
  invalid_cursor: 'invalid',
  invalid_url: 'invalid',
  bad_request: 'invalid',
  unidentified: 'invalid',
  unidentified_sender: 'invalid',
  invalid_key: 'invalid',
  invalid_grant: 'invalid',
  invalid_window: 'invalid',
  pinned_field: 'invalid',
  callback_host_refused: 'invalid',
  unauthorized: 'unauthenticated',
  not_signed_in: 'unauthenticated',
  sign_in_failed: 'unauthenticated',
  link_invalid: 'unauthenticated',
  step_up_required: 'unauthenticated',
  csrf_failed: 'forbidden',
  step_up_unavailable: 'forbidden',
  unknown_person: 'forbidden',
  not_an_auditor: 'forbidden',
  oidc_not_configured: 'not_found',
  forbidden: 'forbidden',
  self_approval: 'forbidden',
  not_eligible: 'forbidden',
  unknown_approver: 'forbidden',
  approver_mismatch: 'forbidden',
  not_found: 'not_found',
  route_not_found: 'not_found',
  checkpoint_not_found: 'not_found',
  idempotency_conflict: 'conflict',
  already_decided: 'conflict',
  already_voted: 'conflict',
  expired: 'conflict',
  not_approved: 'conflict',
  outcome_already_reported: 'conflict',
  key_exists: 'conflict',
  person_exists: 'conflict',
  identity_claimed: 'conflict',
  not_sealed: 'conflict',
  grant_already_used: 'conflict',
  grant_expired: 'conflict',
  reason_required: 'unprocessable',
  standing_not_allowed: 'unprocessable',
  not_revocable: 'forbidden',
  already_revoked: 'conflict',
  payload_too_large: 'too_large',
  unsupported_media_type: 'unsupported_media',
  rate_limited: 'rate_limited',
  too_many_pending: 'rate_limited',
  too_many_long_polls: 'rate_limited',
  too_many_auth_failures: 'rate_limited',
  service_unavailable: 'unavailable',
  member_lookup_failed: 'unavailable',
  internal_error: 'internal',
} as const satisfies Record<string, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get kind(): ErrorKind {
    return ERROR_CODES[this.code];
  }
}

/** One problem found in client input, addressed by the path of the offending field (e.g. `requester.type`). */
export interface FieldProblem {
  path: string;
  message: string;
}

export function validationError(problems: FieldProblem[]): AppError {
  const first = problems[0];
  const summary = first ? `Invalid field \`${first.path || '(body)'}\`: ${first.message}` : 'Invalid input';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return new AppError('validation_failed', summary + more, { field: first?.path, problems });
}

/** The usual "no such request" answer; unknown ids and ids the caller may not see read the same. */
export function requestNotFound(id: string): AppError {
  return new AppError('not_found', `No request with id ${id}.`, { field: 'id' });
}
