/**
 * Schemas every part of the API contract shares: the error envelope, request ids, people, dates and cursors in query
 * strings, and the one rule for text PostgreSQL cannot store.
 */
import { z } from 'zod';
import { LAST_TIME_MS, UUID_PATTERN } from '../../domain/ids';

export { isSeqText } from '../../domain/ids';

/** Every error answer: `{ error: { code, message, field?, details? } }`; `code` is stable, `field` names the input. */
export const errorEnvelope = z
  .object({
    error: z.object({
      code: z.string().describe('Stable error code; branch on this, never on the message.'),
      message: z.string(),
      field: z.string().optional().describe('Path of the offending input field, e.g. `requester.type`.'),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .meta({ id: 'Error' });

/** A request id in a path; anything else is answered 404 like an unknown id. */
export const requestIdParams = z.object({ id: z.string().regex(UUID_PATTERN, 'must be a request id (UUID)') });

export const identityFields = {
  email: z.string().trim().email().max(320).optional(),
  slackUserId: z.string().trim().regex(/^[UW][A-Z0-9]{2,30}$/, 'must be a Slack user id such as U0123ABCD').optional(),
  teamsUserId: z.string().trim().min(1).max(200).optional(),
  name: z.string().trim().min(1).max(200).optional(),
};

/** A person as stored and returned (no validation beyond shape: these were validated on the way in). */
export const personOut = z.object({
  id: z.string().optional(),
  email: z.string().optional(),
  slackUserId: z.string().optional(),
  teamsUserId: z.string().optional(),
  name: z.string().optional(),
});

/** The standard error answers of an authenticated route, for the OpenAPI document. */
export const authErrors = { 400: errorEnvelope, 401: errorEnvelope, 403: errorEnvelope, 503: errorEnvelope } as const;

/**
 * NUL (refused by PostgreSQL in text and jsonb) or a UTF-16 surrogate without its pair (not encodable as UTF-8; jsonb
 * refuses its escape). With the `u` flag a well-formed pair is one code point, so `\p{Cs}` matches only lone halves.
 */
const UNSTORABLE = /[\u0000\p{Cs}]/u;

/** Whether PostgreSQL can store `text` as it is. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

const UNSTORABLE_MESSAGE = 'contains a character that cannot be stored (NUL or an unpaired UTF-16 surrogate)';

/**
 * Every string and object key in `value` PostgreSQL would refuse, with its path (a key is reported at its object).
 * Iterative, so a deeply nested body cannot exhaust the stack.
 */
export function unstorableTexts(value: unknown): { path: (string | number)[]; message: string }[] {
  const found: { path: (string | number)[]; message: string }[] = [];
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  while (stack.length && found.length < 20) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (!isStorableText(v)) found.push({ path, message: UNSTORABLE_MESSAGE });
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ v: item, path: [...path, i] }));
    } else if (v && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        if (!isStorableText(key)) found.push({ path, message: `has a key that ${UNSTORABLE_MESSAGE}` });
        else stack.push({ v: item, path: [...path, key] });
      }
    }
  }
  return found;
}

/**
 * `schema`, refusing first any input holding text PostgreSQL cannot store, wherever it is (bodies, query strings,
 * paths, context objects). The server compiles every route's schemas through this, so no field can forget it and no
 * such input reaches a statement (which would fail with SQLSTATE 22021 or 22P05).
 */
export function storable<T extends z.ZodType>(schema: T) {
  return z
    .unknown()
    .superRefine((value, ctx) => {
      for (const problem of unstorableTexts(value)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    })
    .pipe(schema);
}

/** The dates PostgreSQL and ISO 8601's four-digit years both hold; a query date outside them is a 400, not a 500. */
export const FIRST_DATE = new Date('0001-01-01T00:00:00.000Z');
export const LAST_DATE = new Date(LAST_TIME_MS);

/** A date in a query string (ISO 8601), within {@link FIRST_DATE} … {@link LAST_DATE}. */
export const queryDate = z.coerce
  .date({ error: 'must be an ISO 8601 date' })
  .min(FIRST_DATE, { error: 'must be in year 0001 or later' })
  .max(LAST_DATE, { error: 'must be in year 9999 or earlier' });
