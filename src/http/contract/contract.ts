/**
 * The API contract in one place: the request and response schemas of every `/v1` route, with its method, path and
 * required scope. The server declares its routes from these tables (fastify-type-provider-zod validates and types
 * them), and the same tables are what an OpenAPI document and a typed client are derived from.
 */
import { auditRoutes } from './audit-contract';
import { grantRoutes } from './grants-contract';
import { lineageRoutes } from './lineage-contract';
import { policyRoutes } from './policy-contract';
import { peopleRoutes } from './people-contract';
import { requestRoutes } from './requests-contract';
import { standingRoutes } from './standing-approvals-contract';

export * from './audit-contract';
export * from './common-schemas';
export * from './grants-contract';
export * from './lineage-contract';
export * from './policy-contract';
export * from './people-contract';
export * from './requests-contract';
export * from './standing-approvals-contract';

/** Every `/v1` route of the API channel. */
export const apiRoutes = { ...requestRoutes, ...auditRoutes, ...peopleRoutes, ...grantRoutes, ...standingRoutes, ...lineageRoutes, ...policyRoutes } as const;
export type ApiRouteName = keyof typeof apiRoutes;
