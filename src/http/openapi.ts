/**
 * The OpenAPI 3.1 document of the API, generated from the contract's zod schemas as routes are declared
 * (@fastify/swagger with fastify-type-provider-zod's transforms), served at `/openapi.json`, and a docs page at
 * `/docs` whose scripts and styles are served from this service (no CDN: it works on an air-gapped install).
 * Registered before any route so every route declared after it is collected; it adds no per-request work.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/** Where the document is served; the client's types and the tests read it from here. */
export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

/** The contract's version: bumped when a `/v1` schema changes in a way clients can see. */
export const API_VERSION = '1.0.0';

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Countersign',
        version: API_VERSION,
        description:
          'A human approval checkpoint in front of the privileged actions of AI agents. Every `/v1` route takes `Authorization: Bearer <API key>`; ' +
          'errors are `{"error":{"code","message","field?","details?"}}` with a stable `code`.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'A Countersign API key (cs_…).' } } },
      security: [{ apiKey: [] }],
    },
    transform: (input) => {
      const out = jsonSchemaTransform(input);
      // Operational routes and chat webhooks are not part of the agent-facing contract.
      if (!input.url.startsWith('/v1/')) return { ...out, schema: { ...out.schema, hide: true } };
      const scope = (input.route.config as { scope?: string | readonly string[] } | undefined)?.scope;
      const scopes = scope === undefined ? [] : typeof scope === 'string' ? [scope] : [...scope];
      return { ...out, schema: { ...out.schema, ...(scopes.length ? { description: `Scope: ${scopes.join(' or ')}.` } : {}), tags: [input.url.split('/')[2]] } };
    },
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PATH, staticCSP: true, uiConfig: { deepLinking: true } });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}
