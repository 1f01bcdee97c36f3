/** The intake body, validated with zod at the HTTP edge. Field names are the public API. */
import { z } from 'zod';
import { REQUESTER_TYPES, RISKS } from '../domain/policy';

const identityFields = {
  id: z.string().trim().min(1).max(200),
  email: z.string().trim().email().max(320).optional(),
  slackUserId: z.string().trim().regex(/^[UW][A-Z0-9]{2,30}$/, 'must be a Slack user id such as U0123ABCD').optional(),
  teamsUserId: z.string().trim().min(1).max(200).optional(),
  name: z.string().trim().min(1).max(200).optional(),
};

export const requesterSchema = z
  .object({
    ...identityFields,
    type: z.enum(REQUESTER_TYPES),
    model: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

export const onBehalfOfSchema = z
  .object({ ...identityFields, id: identityFields.id.optional() })
  .strict()
  .refine((p) => p.email || p.slackUserId || p.teamsUserId || p.id, { message: 'needs at least one of email, slackUserId, teamsUserId or id' });

const contextValue = z.union([z.string().max(2000), z.number().finite(), z.boolean()]);

export const submitRequestSchema = z
  .object({
    action: z.string().trim().min(1).max(200).regex(/^[A-Za-z0-9_.:/-]+$/, 'use letters, digits and . _ : / -'),
    resource: z.string().trim().min(1).max(1000),
    requester: requesterSchema,
    onBehalfOf: onBehalfOfSchema.optional(),
    justification: z.string().trim().min(1).max(4000).optional(),
    context: z
      .record(z.string().min(1).max(100), contextValue)
      .refine((c) => Object.keys(c).length <= 50, { message: 'at most 50 context entries' })
      .optional(),
    risk: z.enum(RISKS).optional(),
    environment: z.string().trim().min(1).max(100).optional(),
    expiresInSeconds: z.number().int().min(60).optional(),
    callbackUrl: z
      .string()
      .url()
      .max(2000)
      .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http(s) URL' })
      .optional(),
    traceId: z.string().trim().min(1).max(200).optional(),
    parentRequestId: z.string().uuid().optional(),
  })
  .strict();

export type SubmitRequestInput = z.output<typeof submitRequestSchema>;

export const approverSchema = z
  .object({
    email: identityFields.email,
    slackUserId: identityFields.slackUserId,
    teamsUserId: identityFields.teamsUserId,
    name: identityFields.name,
  })
  .strict()
  .refine((p) => p.email || p.slackUserId || p.teamsUserId, { message: 'needs at least one of email, slackUserId or teamsUserId' });

export const decisionSchema = z
  .object({
    approver: approverSchema,
    decision: z.enum(['approve', 'deny']),
    reason: z.string().trim().min(1).max(2000).optional(),
  })
  .strict();

export const outcomeReportSchema = z
  .object({
    status: z.enum(['succeeded', 'failed', 'aborted']),
    detail: z.string().trim().min(1).max(4000).optional(),
  })
  .strict();
