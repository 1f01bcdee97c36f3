/** The people directory's admin API: list, add, link and unlink identities, remove. Scope `admin`; every change audited. */
import { z } from 'zod';
import { authErrors, errorEnvelope } from './common-schemas';

const identityText = z.string().trim().min(3).max(400).describe('email, slack:<user id>, teams:<aad object id> or idp:<issuer>|<subject>');

export const directoryPerson = z
  .object({
    id: z.string(),
    name: z.string().optional(),
    source: z.enum(['policy', 'cli', 'api', 'implicit']),
    identities: z.array(z.object({ identity: z.string(), verifiedBy: z.string() })),
  })
  .meta({ id: 'Person' });

export const addPersonBody = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'person ids use a-z, 0-9, . _ - (no @ or :)'),
    name: z.string().trim().min(1).max(200).optional(),
    identities: z.array(identityText).min(1).max(50),
  })
  .strict();

export const linkIdentityBody = z.object({ identity: identityText }).strict();
export const personParams = z.object({ id: z.string().min(1).max(400) });
export const identityParams = z.object({ id: z.string().min(1).max(400), identity: z.string().min(1).max(400) });

export const peopleRoutes = {
  listPeople: { method: 'GET', url: '/v1/people', scope: 'admin', schema: { response: { 200: z.object({ items: z.array(directoryPerson) }), ...authErrors } } },
  addPerson: { method: 'POST', url: '/v1/people', scope: 'admin', schema: { body: addPersonBody, response: { 201: directoryPerson, 409: errorEnvelope, ...authErrors } } },
  linkIdentity: {
    method: 'POST',
    url: '/v1/people/:id/identities',
    scope: 'admin',
    schema: { params: personParams, body: linkIdentityBody, response: { 201: directoryPerson, 404: errorEnvelope, 409: errorEnvelope, ...authErrors } },
  },
  unlinkIdentity: {
    method: 'DELETE',
    url: '/v1/people/:id/identities/:identity',
    scope: 'admin',
    schema: { params: identityParams, response: { 204: z.null(), 404: errorEnvelope, ...authErrors } },
  },
  removePerson: { method: 'DELETE', url: '/v1/people/:id', scope: 'admin', schema: { params: personParams, response: { 204: z.null(), 404: errorEnvelope, ...authErrors } } },
} as const;
