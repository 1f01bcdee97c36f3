/** The one mapping from errors to HTTP answers: `{ error: { code, message, field?, details? } }` with a stable code. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError, type ZodType } from 'zod';
import { AppError, validationError } from '../domain/app-error';
import { isDatabaseUnavailable } from '../store/database';

/** Validates with zod and throws {@link validationError} naming every offending field path. */
export function parseInput<T extends ZodType>(schema: T, value: unknown, prefix = ''): import('zod').output<T> {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  throw validationError(res.error.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].filter(Boolean).join('.'), message: i.message })));
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return validationError(err.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })));
  const fe = err as FastifyError;
  switch (fe?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 413, 'The request body is larger than this server accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 415, 'Send the body as application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json', 400, 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('invalid_json', 400, `The request body is not valid JSON: ${fe.message}`);
  }
  if (fe instanceof SyntaxError || (fe?.statusCode === 400 && /JSON/i.test(fe.message))) {
    return new AppError('invalid_json', 400, `The request body is not valid JSON: ${fe.message}`);
  }
  if (isDatabaseUnavailable(err) || /Connection is closed|Stream isn't writeable|enableOfflineQueue/i.test(fe?.message ?? '')) {
    return new AppError('service_unavailable', 503, 'A backing service (PostgreSQL or Redis) is unavailable; nothing was recorded. Retry shortly.');
  }
  if (fe?.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError('bad_request', fe.statusCode, fe.message);
  }
  return new AppError('internal_error', 500, 'Internal error; it has been logged.');
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const e = toAppError(err);
  if (e.status >= 500) req.log.error({ err }, 'request failed');
  else req.log.info({ code: e.code, status: e.status }, e.message);
  if (e.status === 503) reply.header('retry-after', '2');
  const details = e.details ? { ...e.details } : undefined;
  const field = details?.field;
  if (details) delete details.field;
  void reply.status(e.status).send({
    error: { code: e.code, message: e.message, ...(field !== undefined ? { field } : {}), ...(details && Object.keys(details).length ? { details } : {}) },
  });
}
