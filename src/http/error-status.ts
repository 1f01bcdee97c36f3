/** The HTTP status of every error kind: the only table that turns the domain's error catalogue into statuses. */
import type { AppError, ErrorKind } from '../domain/app-error';

const STATUS_BY_KIND: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
};

export function httpStatusOf(err: AppError): number {
  return STATUS_BY_KIND[err.kind];
}
