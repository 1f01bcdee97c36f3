/** The one mapping from errors to HTTP answers: `{ error: { code, message, field?, details? } }` with a stable code. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ZodError } from 'zod';
import { AppError, requestNotFound, validationError, type FieldProblem } from '../domain/app-error';
import { QueueUnavailableError } from '../ports/job-queue';
import { isDatabaseUnavailable } from '../store/database';
import { httpStatusOf } from './error-status';

/** An error as the HTTP layer answers it. */
interface HttpError {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** `idempotency-key` → `Idempotency-Key`: headers are named in errors as clients write them. */
function headerName(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** Field problems from a failed schema validation of one part of the request (body, querystring, headers). */
function schemaProblems(err: FastifyError & { validationContext?: string }): FieldProblem[] {
  const context = err.validationContext;
  return (err.validation ?? []).map((v) => {
    const segments = v.instancePath.split('/').filter(Boolean);
    const path = context === 'headers' && segments.length ? [headerName(segments[0]), ...segments.slice(1)] : segments;
    return { path: path.join('.'), message: v.message ?? 'invalid' };
  });
}

function fromAppError(e: AppError): HttpError {
  return { status: httpStatusOf(e), code: e.code, message: e.message, details: e.details };
}

export function toHttpError(err: unknown, req?: FastifyRequest): HttpError {
  if (err instanceof AppError) return fromAppError(err);
  const fe = err as FastifyError & { validationContext?: string };
  if (hasZodFastifySchemaValidationErrors(fe)) {
    // A malformed id is a 404 like an unknown one.
    if (fe.validationContext === 'params') return fromAppError(requestNotFound(String((req?.params as { id?: unknown } | undefined)?.id ?? '')));
    return fromAppError(validationError(schemaProblems(fe)));
  }
  if (err instanceof ZodError) return fromAppError(validationError(err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }))));
  switch (fe?.code) {
    case 'FST_ERR_BAD_URL':
      return fromAppError(new AppError('invalid_url', 'The URL path is not valid percent-encoded UTF-8.'));
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return fromAppError(new AppError('payload_too_large', 'The request body is larger than this server accepts.'));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return fromAppError(new AppError('unsupported_media_type', 'Send the body as application/json.'));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return fromAppError(new AppError('invalid_json', 'The request body is empty; send a JSON object.'));
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return fromAppError(new AppError('invalid_json', `The request body is not valid JSON: ${fe.message}`));
  }
  // Fastify's JSON parser raises SyntaxError (status 400) for bodies it cannot parse.
  if (fe instanceof SyntaxError) return fromAppError(new AppError('invalid_json', `The request body is not valid JSON: ${fe.message}`));
  if (isDatabaseUnavailable(err) || err instanceof QueueUnavailableError) {
    return fromAppError(new AppError('service_unavailable', 'A backing service (PostgreSQL or Redis) is unavailable; nothing was recorded. Retry shortly.'));
  }
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return { status: fe.statusCode, code: 'bad_request', message: fe.message };
  return fromAppError(new AppError('internal_error', 'Internal error; it has been logged.'));
}

/** The JSON body of an error answer. */
export function errorBody(e: Pick<HttpError, 'code' | 'message' | 'details'>): { error: { code: string; message: string; field?: unknown; details?: Record<string, unknown> } } {
  const details = e.details ? { ...e.details } : undefined;
  const field = details?.field;
  if (details) delete details.field;
  return { error: { code: e.code, message: e.message, ...(field !== undefined ? { field } : {}), ...(details && Object.keys(details).length ? { details } : {}) } };
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const e = toHttpError(err, req);
  if (e.status >= 500 && e.code !== 'service_unavailable') req.log.error({ err }, 'request failed');
  else if (e.status >= 500) req.log.warn({ err }, e.message);
  else req.log.info({ code: e.code, status: e.status }, e.message);
  if (e.status === 503) reply.header('retry-after', '2');
  const retryAfter = e.details?.retryAfterSeconds;
  if (e.status === 429 && typeof retryAfter === 'number') reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
  void reply.status(e.status).send(errorBody(e));
}
