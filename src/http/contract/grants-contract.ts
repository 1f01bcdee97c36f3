/**
 * Approval grants' contract: recording a grant's single use, and the public keys that verify grants and signed
 * callbacks (RFC 7517 JWKS, served without authentication at the well-known path).
 */
import { z } from 'zod';
import { authErrors, errorEnvelope } from './common-schemas';

export const useGrantBody = z.object({ grant: z.string().min(20).max(8000).describe('The compact JWS from `GET /v1/requests/:id`.') }).strict();
export const grantUsed = z.object({ requestId: z.string(), usedAt: z.string(), key: z.string() }).meta({ id: 'GrantUse' });

export const jwksDocument = z
  .object({ keys: z.array(z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: z.string(), kid: z.string(), alg: z.literal('EdDSA'), use: z.literal('sig') })) })
  .meta({ id: 'Jwks' });

export const grantRoutes = {
  useGrant: {
    method: 'POST',
    url: '/v1/grants/use',
    // The submitting key itself, or the system that runs approved actions.
    scope: ['submit', 'execute'],
    schema: { body: useGrantBody, response: { 201: grantUsed, 409: errorEnvelope, ...authErrors } },
  },
} as const;
