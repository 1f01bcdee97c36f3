/**
 * Grant verification in the TypeScript client, with this test's own Ed25519 key and JWKS server, so that every way a
 * grant can be wrong is reachable (the service's real grants go through guard in typescript-client.test.ts):
 * signature, type, lifetime and the binding to the submitted body. Then guard's grant path against a small stand-in
 * that issues grants and refuses reuse.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { canonicalJson as serverCanonicalJson } from '../../src/domain/canonical-json';
import { canonicalJson, CountersignClient, GrantVerificationError, grantHash, remoteKeys, verifyGrant, type ApprovalInput } from '../../clients/typescript/src/index';

const submitted: ApprovalInput = {
  action: 'db.migrate',
  resource: 'pg://prod/main',
  requester: { id: 'deploy-agent', type: 'agent', model: 'm' },
  context: { ticket: 'CHG-9', z: 1, a: true, 'é': 'x', '\u00e9a': 2 },
};
const requestId = '0b7c3f5e-1d2a-4b8c-9e0f-123456789abc';

let key: CryptoKey;
let otherKey: CryptoKey;
let server: Server;
let base: string;
let grantsUsed = new Set<string>();
let grantToIssue = '';
const outcomes: unknown[] = [];

async function sign(claims: Record<string, unknown>, o: { typ?: string; key?: CryptoKey; kid?: string; exp?: string | number } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'EdDSA', kid: o.kid ?? 'k1', typ: o.typ ?? 'countersign-grant+jwt' })
    .setIssuer(base)
    .setJti(requestId)
    .setSubject('deploy-agent')
    .setIssuedAt()
    .setExpirationTime(o.exp ?? '15m')
    .sign(o.key ?? key);
}

async function goodClaims(body: ApprovalInput = submitted) {
  return { cs_action: body.action, cs_resource: body.resource, cs_hash: await grantHash(body), cs_policy: 'p', cs_rule: 'default', cs_approvers: ['alice'] };
}

beforeAll(async () => {
  const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  key = pair.privateKey;
  ({ privateKey: otherKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' }));
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
  // A stand-in for the parts of the service guard talks to once grants exist.
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const url = req.url ?? '';
      if (url === '/.well-known/jwks.json') return json(200, { keys: [jwk] });
      if (req.method === 'POST' && url === '/v1/requests') return json(202, { id: requestId, status: 'approved', expiresAt: new Date().toISOString(), rule: 'default', links: {} });
      if (req.method === 'GET' && url.startsWith(`/v1/requests/${requestId}`)) {
        return json(200, { id: requestId, status: 'approved', policy: { rule: 'default' }, votes: [{ approver: { email: 'alice@example.com' }, personKey: 'alice', decision: 'approve', reason: null }], decidedBy: 'alice', decisionReason: null, grant: grantToIssue });
      }
      if (req.method === 'POST' && url === '/v1/grants/use') {
        const { grant } = JSON.parse(raw);
        if (grantsUsed.has(grant)) return json(409, { error: { code: 'grant_already_used', message: 'This grant was already used.' } });
        grantsUsed.add(grant);
        return json(201, { requestId, usedAt: new Date().toISOString() });
      }
      if (req.method === 'POST' && url === `/v1/requests/${requestId}/outcome`) {
        outcomes.push(JSON.parse(raw));
        return json(201, { id: requestId, outcome: JSON.parse(raw).status });
      }
      json(404, { error: { code: 'route_not_found', message: url } });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));
beforeEach(() => {
  grantsUsed = new Set();
  outcomes.length = 0;
});

test("the client's canonical JSON is the service's (RFC 8785 key order by UTF-16 code units)", () => {
  const value = { b: [3, { y: null, x: 'é' }], a: 1.5, '\u{1F600}': 1, '\uFB01': 2, A: false };
  expect(canonicalJson(value)).toBe(serverCanonicalJson(value));
  expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
});

test('a grant signed by the JWKS key, of the right type, for this exact body, verifies', async () => {
  const claims = await verifyGrant(await sign(await goodClaims()), remoteKeys(`${base}/.well-known/jwks.json`), { requestId, submitted, issuer: base });
  expect(claims).toMatchObject({ jti: requestId, cs_action: 'db.migrate', cs_approvers: ['alice'] });
});

test('a grant is refused when anything does not match', async () => {
  const keys = remoteKeys(`${base}/.well-known/jwks.json`);
  const expectation = { requestId, submitted };
  await expect(verifyGrant(await sign(await goodClaims(), { key: otherKey }), keys, expectation)).rejects.toThrow(/signature/);
  await expect(verifyGrant(await sign(await goodClaims(), { typ: 'JWT' }), keys, expectation)).rejects.toThrow(/typ/);
  await expect(verifyGrant(await sign(await goodClaims(), { exp: Math.floor(Date.now() / 1000) - 60 }), keys, expectation)).rejects.toThrow(/exp/);
  const changed = { ...submitted, context: { ...submitted.context, ticket: 'CHG-10' } };
  await expect(verifyGrant(await sign(await goodClaims()), keys, { requestId, submitted: changed })).rejects.toThrow(/cs_hash/);
  await expect(verifyGrant(await sign(await goodClaims()), keys, { requestId: '11111111-1d2a-4b8c-9e0f-123456789abc', submitted })).rejects.toThrow(/not 1111/);
  await expect(verifyGrant(await sign({ ...(await goodClaims()), cs_action: 'db.drop' }), keys, expectation)).rejects.toThrow(/action db.drop/);
  await expect(verifyGrant(await sign(await goodClaims()), keys, { ...expectation, issuer: 'https://elsewhere' })).rejects.toThrow(/iss/);
});

test('the hash binds absent context and onBehalfOf as null', async () => {
  const bare: ApprovalInput = { action: 'a.b', resource: 'r', requester: { id: 'x', type: 'agent' } };
  const explicit = { action: 'a.b', resource: 'r', context: null, requester: { id: 'x', type: 'agent' }, onBehalfOf: null };
  const expected = Buffer.from(require('node:crypto').createHash('sha256').update(serverCanonicalJson(explicit)).digest()).toString('base64url');
  expect(await grantHash(bare)).toBe(expected);
});

test('guard verifies the grant, uses it once, runs the action and reports; a reused or forged grant runs nothing', async () => {
  const client = new CountersignClient({ baseUrl: base, apiKey: 'k', issuer: base });
  grantToIssue = await sign(await goodClaims());
  const ok = await client.guard(submitted, () => 'migrated');
  expect(ok.grant).toMatchObject({ verified: true, used: true, claims: { cs_rule: 'default' } });
  expect(outcomes).toEqual([{ status: 'succeeded' }]);

  let ran = false;
  const reused = await client.guard(submitted, () => (ran = true)).catch((e) => e);
  expect(reused).toBeInstanceOf(GrantVerificationError);
  expect(reused.message).toContain('grant_already_used');

  grantToIssue = await sign(await goodClaims(), { key: otherKey });
  const forged = await client.guard(submitted, () => (ran = true)).catch((e) => e);
  expect(forged).toBeInstanceOf(GrantVerificationError);
  expect(ran).toBe(false);
  expect(outcomes.slice(1)).toEqual([
    { status: 'aborted', detail: expect.stringContaining('grant_already_used') },
    { status: 'aborted', detail: expect.stringContaining('signature') },
  ]);
});
