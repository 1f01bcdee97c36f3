/** Schemas every part of the API contract shares: the error envelope, request ids, people. */
import { z } from 'zod';
import { UUID_PATTERN } from '../../domain/ids';

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
