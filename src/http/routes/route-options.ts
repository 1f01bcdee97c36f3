/** Turns a contract entry into Fastify route options: method, path, schema, and the required scope as route config. */
import type { Scope } from '../../services/api-key-service';

export function fromContract<const R extends { method: string; url: string; scope: Scope | readonly Scope[]; schema: object }>(route: R) {
  return { method: route.method, url: route.url, schema: route.schema, config: { scope: route.scope } } as {
    method: R['method'];
    url: R['url'];
    schema: R['schema'];
    config: { scope: Scope | readonly Scope[] };
  };
}
