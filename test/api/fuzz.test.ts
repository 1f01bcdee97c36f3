/**
 * Property test: generated bodies, query strings and path parameters thrown at every /v1 route of the OpenAPI
 * document, with a key holding every scope. Whatever arrives, the answer is never a 5xx, and a refused input writes
 * nothing (requests and audit events counted around each call). RUN_MODE=api: no worker writes in the background,
 * so every row counted was written by the call itself.
 */
import fc from 'fast-check';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

/** One key per role (no key may both submit and vote); each route is called with a key holding its scope. */
const KEYS: Record<string, { secret: string; scopes: string[] }> = {
  agent: { secret: 'fuzz-agent-0123456789abcdef', scopes: ['submit', 'read', 'execute'] },
  portal: { secret: 'fuzz-portal-0123456789abcdef', scopes: ['read', 'attest'] },
  admin: { secret: 'fuzz-admin-0123456789abcdef', scopes: ['read', 'audit', 'admin'] },
};
const FUZZ_KEY = KEYS.agent.secret;
/** Routine reads approved at once, everything else pending on the API alone (no chat channel to deliver to). */
const POLICY = `
version: 1
groups:
  approvers: [alice@example.com, bob@example.com]
rules:
  - name: routine-reads
    match: { action: "*.read" }
    outcome: approve
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
`;

let t: TestApp;
let routes: { method: string; path: string; query: string[]; bodyKeys: string[]; key: string }[];
let existingId: string;
beforeAll(async () => {
  t = await startTestApp({
    policyYaml: POLICY,
    env: { RUN_MODE: 'api', API_KEYS: Object.entries(KEYS).map(([name, k]) => `${name}:${k.secret}:${k.scopes.join('+')}:${name}@example.com`).join(','), MAX_WAIT_SECONDS: '0' },
  });
  existingId = (await t.submit(baseRequest({ action: 'deploy.service' }), { key: FUZZ_KEY })).body.id;
  const doc = (await t.app.server.inject({ method: 'GET', url: '/openapi.json' })).json();
  routes = [];
  for (const [path, ops] of Object.entries<Record<string, any>>(doc.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries<any>(ops)) {
      const query = (op.parameters ?? []).filter((p: any) => p.in === 'query').map((p: any) => p.name);
      const schema = op.requestBody?.content?.['application/json']?.schema;
      const resolved = schema?.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema;
      const scopes = /Scope: (.*)\./.exec(op.description ?? '')?.[1].split(' or ') ?? [];
      const key = Object.values(KEYS).find((k) => scopes.some((s) => k.scopes.includes(s)))?.secret ?? FUZZ_KEY;
      routes.push({ method: method.toUpperCase(), path, query, bodyKeys: Object.keys(resolved?.properties ?? {}), key });
    }
  }
});
afterAll(async () => {
  await t?.close();
});

/** Characters that have broken services before: NUL, lone surrogates, quotes, separators, the byte-order mark. */
const nasty = fc.constantFrom('\u0000', '\ud800', '\udfff', '\ufeff', '\uffff', '"', "'", '\\', '%', '|', '*', '?', '\n', ' ', '/', '..', 'é', '😀');
const char = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('a', 'Z', '0', '9', '-', '.', '@', ':') }, { weight: 2, arbitrary: nasty }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) });
const text = fc.oneof(
  fc.string({ unit: char, maxLength: 40 }),
  fc.constantFrom('', 'dataset.export', 'alice@example.com', 'approve', 'deny', 'ndjson', '2026-01-01', '-200000-01-01', '275760-09-13', 'slack:U0000ERIN'),
  fc.uuid(),
);
const numberText = fc.oneof(fc.double().map(String), fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String), fc.constantFrom('1e400', '-0', 'NaN', 'Infinity', '0x10', '9007199254740993'));
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, 1e-320),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('any'), { maxLength: 4 }),
    fc.dictionary(text, tie('any'), { maxKeys: 4 }),
  ),
})).any;

/** Percent-encodes anything, lone surrogates included (as the bytes a careless client would send). */
function enc(s: string): string {
  return s.replace(/\p{Cs}/gu, '\u0000SURROGATE\u0000').split('\u0000SURROGATE\u0000').map(encodeURIComponent).join('%ED%A0%80');
}

const counts = async () => ({ requests: await t.db.approvalRequest.count(), audit: await t.db.auditEvent.count() });

it('answers every generated call to every /v1 route without a 5xx, writing nothing when it refuses', async () => {
  expect(routes.length).toBeGreaterThan(10);
  const call = fc.record({
    route: fc.constantFrom(...routes),
    pathValue: fc.oneof(text, fc.constant('{existing}')),
    queryValues: fc.array(fc.tuple(fc.oneof(fc.constant(''), text), fc.oneof(text, numberText)), { maxLength: 4 }),
    knownQuery: fc.array(fc.oneof(text, numberText), { maxLength: 4 }),
    body: fc.oneof(
      { weight: 3, arbitrary: fc.constant('fields') },
      { weight: 1, arbitrary: value.map((v) => JSON.stringify(v) ?? 'null') },
      { weight: 1, arbitrary: fc.string({ unit: char, maxLength: 60 }) },
      { weight: 1, arbitrary: fc.constant('valid-intake') },
    ),
    fieldValues: fc.array(value, { minLength: 8, maxLength: 8 }),
    omit: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  });
  await fc.assert(
    fc.asyncProperty(call, async (c) => {
      const { route } = c;
      const path = route.path.replace(/\{[^}]+\}/g, () => (c.pathValue === '{existing}' ? existingId : enc(c.pathValue)));
      const params = [
        ...route.query.map((name, i) => (c.knownQuery[i] === undefined ? undefined : `${name}=${enc(c.knownQuery[i])}`)),
        ...c.queryValues.map(([k, v]) => `${enc(k)}=${enc(v)}`),
      ].filter(Boolean);
      const url = params.length ? `${path}?${params.join('&')}` : path;
      let payload: string | undefined;
      if (route.method !== 'GET' && route.method !== 'DELETE') {
        if (c.body === 'fields') {
          const fields = Object.fromEntries(route.bodyKeys.filter((_, i) => !c.omit[i % 8]).map((k, i) => [k, c.fieldValues[i % 8]]));
          payload = JSON.stringify(fields);
        } else if (c.body === 'valid-intake') {
          // A valid intake with one field replaced: validation must hold at every depth.
          const body: Record<string, unknown> = baseRequest({ action: 'fuzz.read' });
          const key = Object.keys(body)[Math.abs(JSON.stringify(c.fieldValues[0]).length) % Object.keys(body).length];
          body[key] = c.fieldValues[1];
          payload = JSON.stringify(body);
        } else payload = c.body;
      }
      const before = await counts();
      const res = await t.app.server.inject({
        method: route.method as 'GET',
        url,
        headers: { authorization: `Bearer ${route.key}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
        payload,
      });
      if (res.statusCode >= 500) throw new Error(`${route.method} ${url} ${payload ?? ''} answered ${res.statusCode}: ${res.body.slice(0, 500)}`);
      if (res.statusCode >= 400) {
        const after = await counts();
        if (after.requests !== before.requests || after.audit !== before.audit) {
          throw new Error(`${route.method} ${url} was refused (${res.statusCode}) but wrote rows: ${JSON.stringify({ before, after })}`);
        }
        expect(res.json().error.code).toEqual(expect.any(String));
      }
    }),
    { numRuns: 800, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
  );
}, 240_000);
