/** The OpenAPI document: every /v1 route of the contract in it, valid OpenAPI 3.1, and an offline docs page. */
import { apiRoutes } from '../../src/http/contract/contract';
import { checkOpenApi31 } from '../support/openapi-check';
import { startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let doc: any;

beforeAll(async () => {
  t = await startTestApp();
  const res = await fetch(`${t.baseUrl}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(async () => t?.close());

test('every /v1 route of the contract is in the document, with its scope', () => {
  const documented = Object.entries<any>(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
  const declared = Object.values(apiRoutes).map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
  expect(documented.sort()).toEqual(declared.sort());
  expect(doc.paths['/v1/requests'].post.description).toContain('Scope: submit');
  expect(doc.paths['/v1/requests/{id}'].get.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'query', name: 'wait' })]));
  // Operational routes, the docs and the MCP endpoint are not part of the agent-facing contract.
  expect(Object.keys(doc.paths).every((p) => p.startsWith('/v1/'))).toBe(true);
});

test('the document is valid OpenAPI 3.1 (and the check catches a broken one)', () => {
  expect(doc.openapi).toBe('3.1.0');
  expect(checkOpenApi31(doc)).toEqual([]);
  const broken = structuredClone(doc);
  broken.paths['/v1/requests/{id}'].get.parameters = [];
  broken.paths['/v1/requests'].post.requestBody.content['application/json'].schema = { $ref: '#/components/schemas/Nope' };
  broken.components.schemas.Error = { type: 'no-such-type' };
  expect(checkOpenApi31(broken)).toEqual(
    expect.arrayContaining([
      expect.stringContaining('{id} is not declared'),
      expect.stringContaining('$ref #/components/schemas/Nope does not resolve'),
      expect.stringContaining('components.schemas.Error: not a valid JSON Schema'),
    ]),
  );
});

test('/docs works offline: every script and style is served by the service itself', async () => {
  const res = await fetch(`${t.baseUrl}/docs/`);
  expect(res.status).toBe(200);
  const html = await res.text();
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  expect(assets.length).toBeGreaterThan(2);
  for (const asset of assets) {
    expect(asset).not.toMatch(/^(https?:)?\/\//);
    const served = await fetch(new URL(asset, `${t.baseUrl}/docs/`));
    await served.arrayBuffer();
    expect(served.status).toBe(200);
  }
  // The page loads its document from this service too.
  const init = await (await fetch(`${t.baseUrl}/docs/static/swagger-initializer.js`)).text();
  expect(init).not.toMatch(/https?:\/\/(?!stackoverflow)/);
  expect(((await (await fetch(`${t.baseUrl}/docs/json`)).json()) as { paths: unknown }).paths).toEqual(doc.paths);
});
