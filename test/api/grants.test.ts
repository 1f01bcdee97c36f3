/**
 * Approval grants (issue 9): an approved request yields a signed grant binding exactly what was submitted, verifiable
 * offline against the JWKS; denied, expired and cancelled ones never do; a grant is used once; callbacks are signed
 * with the service's key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { runCli } from '../../src/cli/cli';
import { grantActionHash } from '../../src/domain/grant';
import { createGrantAuthority, verifyDetached, type Jwks } from '../../src/evidence/grants';
import { jwkThumbprint, type SigningKey } from '../../src/evidence/signing-key';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let executor: string;
let receiver: Server;
let receiverUrl: string;
const callbacks: { headers: IncomingMessage['headers']; body: string }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      callbacks.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  t = await startTestApp({ env: { CALLBACK_ALLOWED_HOSTS: '127.0.0.1' } });
  executor = (await t.app.services.apiKeys.create({ name: 'deployer', scopes: ['execute'], owner: null, actor: 'test' })).secret;
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => receiver?.close(r));
});

const jwks = async () => (await (await fetch(`${t.baseUrl}/.well-known/jwks.json`)).json()) as Jwks;
const get = async (id: string) => (await t.call('GET', `/v1/requests/${id}`)).body;

it('grants a routine approval, binding exactly the submitted request, verifiable offline against the JWKS', async () => {
  const body = baseRequest({ action: 'table.read', environment: 'dev' });
  const res = await t.submit(body);
  expect(res.body.status).toBe('approved');
  const detail = await get(res.body.id);
  expect(detail.grant).toEqual(expect.any(String));
  expect(decodeProtectedHeader(detail.grant)).toMatchObject({ alg: 'EdDSA', typ: 'countersign-grant+jwt' });
  const { payload } = await jwtVerify(detail.grant, createLocalJWKSet(await jwks()), { typ: 'countersign-grant+jwt' });
  expect(payload).toMatchObject({
    jti: res.body.id,
    sub: 'etl-agent-7',
    cs_action: 'table.read',
    cs_rule: 'routine-reads',
    cs_approvers: ['policy'],
    cs_hash: grantActionHash(body as never),
    cs_policy: detail.policy.hash,
  });
  expect((payload.exp as number) - (payload.iat as number)).toBe(900);
  // The same request yields the same grant each time it is read (Ed25519 is deterministic; the window starts at the decision).
  expect((await get(res.body.id)).grant).toBe(detail.grant);
});

it('grants a human approval naming the approvers, in the long-poll answer too; the rest never get one', async () => {
  const { body } = await t.submit(baseRequest({ action: 'service.restart' }));
  expect((await get(body.id)).grant).toBeNull();
  const waiting = t.call('GET', `/v1/requests/${body.id}?wait=20`, { key: t.keys.agent });
  await new Promise((r) => setTimeout(r, 200));
  await t.call('POST', `/v1/requests/${body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
  const answer = (await waiting).body;
  expect(answer.status).toBe('approved');
  const { payload } = await jwtVerify(answer.grant, createLocalJWKSet(await jwks()));
  expect(payload).toMatchObject({ jti: body.id, cs_approvers: ['alice@example.com'] });

  const denied = await t.submit(baseRequest({ action: 'bucket.delete' }));
  expect((await get(denied.body.id)).grant).toBeNull();
  const cancelled = await t.submit(baseRequest({ action: 'service.restart' }));
  await t.call('POST', `/v1/requests/${cancelled.body.id}/cancel`, { key: t.keys.agent, body: {} });
  expect((await get(cancelled.body.id)).grant).toBeNull();
});

it('lets a grant be used once, by the submitting key or an execute key, and records it', async () => {
  const mine = await t.submit(baseRequest({ action: 'table.read', environment: 'dev' }));
  const grant = (await get(mine.body.id)).grant;
  const stranger = await t.call('POST', '/v1/grants/use', { key: t.keys.agent2, body: { grant } });
  expect(stranger.status).toBe(403);
  const first = await t.call('POST', '/v1/grants/use', { key: t.keys.agent, body: { grant } });
  expect(first.status).toBe(201);
  expect(first.body).toMatchObject({ requestId: mine.body.id, key: 'agent' });
  const again = await t.call('POST', '/v1/grants/use', { key: executor, body: { grant } });
  expect(again.status).toBe(409);
  expect(again.body.error.code).toBe('grant_already_used');
  expect((await get(mine.body.id)).grantUse).toMatchObject({ key: 'agent' });
  const used = (await t.call('GET', `/v1/audit?requestId=${mine.body.id}&type=grant.used`)).body.items;
  expect(used).toHaveLength(1);
  // The executor may use another request's grant; the outcome report then closes the lineage.
  const other = await t.submit(baseRequest({ action: 'table.read', environment: 'dev' }));
  expect((await t.call('POST', '/v1/grants/use', { key: executor, body: { grant: (await get(other.body.id)).grant } })).status).toBe(201);
  expect((await t.call('POST', `/v1/requests/${other.body.id}/outcome`, { key: t.keys.agent, body: { status: 'succeeded' } })).status).toBe(201);
});

it('refuses a tampered grant and one signed by another key', async () => {
  const { body } = await t.submit(baseRequest({ action: 'table.read', environment: 'dev' }));
  const grant: string = (await get(body.id)).grant;
  const [h, p, s] = grant.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, cs_resource: 'warehouse://prod/everything' })).toString('base64url')}.${s}`;
  const tampered = await t.call('POST', '/v1/grants/use', { key: t.keys.agent, body: { grant: forged } });
  expect(tampered.status).toBe(400);
  expect(tampered.body.error).toMatchObject({ code: 'invalid_grant', field: 'grant' });

  const other = generateKeyPairSync('ed25519');
  const raw = Buffer.from(other.publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const foreign = await createGrantAuthority({ key: { privateKey: other.privateKey, publicKeyRaw: raw, kid: jwkThumbprint(raw) } as SigningKey, retiredKeys: [], issuer: t.baseUrl }).issue({
    id: body.id, action: 'table.read', resource: 'x', requesterId: 'a', actionHash: 'h', policyHash: 'p', policyRule: 'r', decidedAt: new Date(), grantTtlSeconds: null, approvers: [],
  });
  expect((await t.call('POST', '/v1/grants/use', { key: t.keys.agent, body: { grant: foreign } })).body.error.code).toBe('invalid_grant');
});

it('ends a grant with its execution window', async () => {
  // Signed by the service's own key and issuer, only its window has passed.
  const { body: approved } = await t.submit(baseRequest({ action: 'table.read', environment: 'dev' }));
  const issuer: string = JSON.parse(Buffer.from((await get(approved.id)).grant.split('.')[1], 'base64url').toString()).iss;
  const authority = createGrantAuthority({ key: t.app.evidence.key, retiredKeys: [], issuer });
  const grant = await authority.issue({ id: '00000000-0000-4000-8000-000000000001', action: 'a', resource: 'r', requesterId: 'x', actionHash: 'h', policyHash: 'p', policyRule: 'rule', decidedAt: new Date(Date.now() - 901_000), grantTtlSeconds: null, approvers: ['alice'] });
  await expect(authority.verify(grant)).rejects.toMatchObject({ code: 'grant_expired' });
  const res = await t.call('POST', '/v1/grants/use', { key: t.keys.agent, body: { grant } });
  expect(res.status).toBe(409);
  expect(res.body.error.code).toBe('grant_expired');
});

it('verifies a grant offline with the CLI against a saved JWKS, and names a request it does not cover', async () => {
  const body = baseRequest({ action: 'table.read', environment: 'dev' });
  const { body: answer } = await t.submit(body);
  const grant = (await get(answer.id)).grant;
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-grant-'));
  writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(await jwks()));
  writeFileSync(path.join(dir, 'request.json'), JSON.stringify(body));
  writeFileSync(path.join(dir, 'other.json'), JSON.stringify({ ...body, resource: 'warehouse://prod/everything' }));
  const out: string[] = [];
  expect(await runCli(['verify', 'grant', grant, '--request', path.join(dir, 'request.json'), '--key', path.join(dir, 'jwks.json')], (s) => out.push(s))).toBe(0);
  expect(out.join('\n')).toMatch(/binds exactly this request/);
  expect(await runCli(['verify', 'grant', grant, '--request', path.join(dir, 'other.json'), '--key', path.join(dir, 'jwks.json')], (s) => out.push(s))).toBe(1);
  expect(out.at(-1)).toMatch(/does not cover this request/);
});

it('signs callbacks with the service key (a detached JWS receivers check against the JWKS), carrying the grant', async () => {
  const { body } = await t.submit(baseRequest({ action: 'table.read', environment: 'dev', callbackUrl: `${receiverUrl}/hook` }));
  const hit = await t.waitFor(async () => callbacks.find((c) => c.body.includes(body.id)), 10_000, 'the callback');
  expect(hit.headers['countersign-signature']).toBeUndefined();
  expect(await verifyDetached(String(hit.headers['countersign-jws']), hit.body, await jwks())).toBe(true);
  expect(await verifyDetached(String(hit.headers['countersign-jws']), hit.body.replace('approved', 'APPROVED'), await jwks())).toBe(false);
  expect(JSON.parse(hit.body).request.grant).toBe((await get(body.id)).grant);
});
