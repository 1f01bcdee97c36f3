/**
 * The evidence pack (issue 9): one archive for a window, from `GET /v1/evidence` and `npm run cli -- evidence export`,
 * that the offline verifier accepts as exported and refuses once anything in it is changed: a file, an event, a
 * policy text, a grant, or the whole pack re-signed by someone else. The policy versions in force are in it.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CompactSign } from 'jose';
import { ZipFile } from 'yazl';
import { runCli } from '../../src/cli/cli';
import { canonicalJson } from '../../src/domain/canonical-json';
import { MANIFEST_JWS_TYPE, type PackGrant, type PackManifest } from '../../src/domain/evidence-pack';
import { verifyEvidencePack } from '../../src/evidence/evidence-pack-verifier';
import type { Jwks } from '../../src/evidence/grants';
import { readPackArchive } from '../../src/evidence/pack-archive';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let since: Date;
let routineId: string;
let approvedId: string;
let deniedId: string;

beforeAll(async () => {
  t = await startTestApp();
  since = new Date(Date.now() - 1000);
  routineId = (await t.submit(baseRequest({ action: 'table.read', environment: 'dev' }))).body.id;
  approvedId = (await t.submit(baseRequest({ action: 'service.restart' }))).body.id;
  await t.call('POST', `/v1/requests/${approvedId}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
  deniedId = (await t.submit(baseRequest({ action: 'bucket.delete' }))).body.id;
  const grant = (await t.call('GET', `/v1/requests/${routineId}`)).body.grant;
  expect((await t.call('POST', '/v1/grants/use', { key: t.keys.agent, body: { grant } })).status).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

const jwks = async () => (await (await fetch(`${t.baseUrl}/.well-known/jwks.json`)).json()) as Jwks;

async function download(query: string): Promise<{ status: number; type: string | null; disposition: string | null; zip: Buffer }> {
  const res = await fetch(`${t.baseUrl}/v1/evidence?${query}`, { headers: { authorization: `Bearer ${t.keys.admin}` } });
  return { status: res.status, type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition'), zip: Buffer.from(await res.arrayBuffer()) };
}

const window = () => `since=${encodeURIComponent(since.toISOString())}&until=${encodeURIComponent(new Date(Date.now() + 1000).toISOString())}`;

/** Rebuilds the manifest over changed files and signs it with `sign` (the service key, or someone else's). */
async function resign(files: Map<string, Buffer>, sign: (payload: Uint8Array) => Promise<string>): Promise<Map<string, Buffer>> {
  const manifest = JSON.parse(files.get('manifest.json')!.toString()) as PackManifest;
  manifest.files = manifest.files.map((f) => {
    const body = files.get(f.path)!;
    return { ...f, sha256: createHash('sha256').update(body).digest('hex'), bytes: body.length };
  });
  const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
  const out = new Map(files);
  out.set('manifest.json', bytes);
  out.set('manifest.jws', Buffer.from(await sign(bytes)));
  return out;
}
const serviceSign = (payload: Uint8Array) => t.app.evidence.grants.sign(payload, MANIFEST_JWS_TYPE);

async function zipOf(files: Map<string, Buffer>): Promise<Buffer> {
  const zip = new ZipFile();
  for (const [name, body] of files) zip.addBuffer(body, name);
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function editLines(files: Map<string, Buffer>, name: string, edit: (line: any) => any): Map<string, Buffer> {
  const text = files.get(name)!.toString().trim().split('\n').map((l) => JSON.stringify(edit(JSON.parse(l)))).join('\n') + '\n';
  return new Map(files).set(name, Buffer.from(text));
}

it('exports a pack over HTTP that the offline verifier accepts: events proven, grants and their use, policy texts in force', async () => {
  const res = await download(window());
  expect(res.status).toBe(200);
  expect(res.type).toBe('application/zip');
  expect(res.disposition).toMatch(/^attachment; filename="countersign-evidence-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.zip"$/);
  const files = await readPackArchive(res.zip);
  expect([...files.keys()]).toEqual(expect.arrayContaining(['README.md', 'manifest.json', 'manifest.jws', 'events.ndjson', 'proofs.ndjson', 'keys/jwks.json', 'grants.ndjson', 'policies/in-force.json']));

  const result = await verifyEvidencePack(files, await jwks());
  expect(result).toMatchObject({ ok: true, trust: 'given', problem: null });
  expect(result.checks.map((c) => c.check)).toEqual(['manifest', 'files', 'checkpoints', 'events', 'grants', 'policies']);

  // The pack holds exactly the window's events, every one proven (the export seals first).
  const manifest = result.manifest!;
  const inWindow = (await t.call('GET', `/v1/audit?${window()}&limit=1000`)).body.items;
  expect(manifest.counts).toMatchObject({ events: inWindow.length, sealed: inWindow.length, unsealed: 0 });
  const events = files.get('events.ndjson')!.toString().trim().split('\n').map((l) => JSON.parse(l));
  expect(events.map((e) => e.seq)).toEqual(inWindow.map((e: { seq: string }) => e.seq));

  // The two approvals have grants (the routine one used), the denial none.
  const grants = files.get('grants.ndjson')!.toString().trim().split('\n').map((l) => JSON.parse(l) as PackGrant);
  expect(grants.map((g) => g.requestId).sort()).toEqual([routineId, approvedId].sort());
  expect(grants.find((g) => g.requestId === routineId)!.use).toMatchObject({ key: 'agent' });
  expect(grants.find((g) => g.requestId === deniedId)).toBeUndefined();
  expect(manifest.counts).toMatchObject({ grants: 2, grantUses: 1 });

  // The policy text in force is there, byte for byte, under the hash the requests record.
  const policyHash = (await t.call('GET', `/v1/requests/${approvedId}`)).body.policy.hash;
  expect(files.get(`policies/${policyHash}.yaml`)!.toString()).toBe(readFileSync(t.config.POLICY_FILE, 'utf8'));
  const inForce = JSON.parse(files.get('policies/in-force.json')!.toString());
  expect(inForce).toEqual([expect.objectContaining({ hash: policyHash, source: 'start' })]);
  expect(files.get('README.md')!.toString()).toContain('npm run cli -- verify pack');
});

it('records each policy version put in force once, in the trail, whatever the number of restarts', async () => {
  const hash = t.app.policy().hash;
  expect((await t.app.services.policies.activate(t.app.policy(), 'start')).changed).toBe(false);
  const events = (await t.call('GET', '/v1/audit?type=policy.in_force&limit=100')).body.items;
  expect(events).toHaveLength(1);
  expect(events[0].data).toMatchObject({ hash, previousHash: null, source: 'start', file: t.config.POLICY_FILE });
});

it('verifies a pack written by the CLI with the CLI, offline', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-pack-'));
  const file = path.join(dir, 'pack.zip');
  const env = { ...process.env, ...Object.fromEntries(Object.entries(t.config).filter(([, v]) => typeof v === 'string' || typeof v === 'number').map(([k, v]) => [k, String(v)])) };
  const out: string[] = [];
  expect(await runCli(['evidence', 'export', '--since', since.toISOString(), '--out', file], (s) => out.push(s), env)).toBe(0);
  expect(out.join('\n')).toMatch(/Wrote .*pack\.zip: \d+ events \(\d+ proven in checkpoint \d+\), 2 grants, 1 policy versions\./);
  writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(await jwks()));

  const report: string[] = [];
  expect(await runCli(['verify', 'pack', file, '--jwks', path.join(dir, 'jwks.json')], (s) => report.push(s))).toBe(0);
  expect(report[0]).toBe('OK: the evidence pack is intact and every record in it is proven.');
  expect(report.join('\n')).not.toContain('note: checked against the keys inside the pack');

  // Without trusted keys it still checks, and says what it trusted.
  const unpinned: string[] = [];
  expect(await runCli(['verify', 'pack', file], (s) => unpinned.push(s))).toBe(0);
  expect(unpinned.join('\n')).toContain('note: checked against the keys inside the pack');

  // A changed byte anywhere fails it, named.
  const files = await readPackArchive(readFileSync(file));
  files.set('README.md', Buffer.from(`${files.get('README.md')!.toString()}\nAll good, nothing to see.\n`));
  writeFileSync(file, await zipOf(files));
  const failed: string[] = [];
  expect(await runCli(['verify', 'pack', file, '--jwks', path.join(dir, 'jwks.json')], (s) => failed.push(s))).toBe(1);
  expect(failed.join('\n')).toMatch(/FAIL files: README\.md was changed/);
});

describe('refuses a changed pack', () => {
  let original: Map<string, Buffer>;
  let trusted: Jwks;
  beforeAll(async () => {
    original = await readPackArchive((await download(window())).zip);
    trusted = await jwks();
  });

  it('refuses a file added or removed', async () => {
    const added = new Map(original).set('events-extra.ndjson', Buffer.from('{}\n'));
    expect((await verifyEvidencePack(added, trusted)).problem).toMatch(/not covered by the manifest: events-extra\.ndjson/);
    const removed = new Map(original);
    removed.delete('grants.ndjson');
    expect((await verifyEvidencePack(removed, trusted)).problem).toBe('grants.ndjson is listed in the manifest but missing');
  });

  it('refuses a pack re-signed with another key, when the auditor pins the service keys', async () => {
    const other = generateKeyPairSync('ed25519');
    const forged = await resign(editLines(original, 'events.ndjson', (e) => e), (p) => new CompactSign(p).setProtectedHeader({ alg: 'EdDSA', kid: 'attacker', typ: MANIFEST_JWS_TYPE }).sign(other.privateKey));
    const result = await verifyEvidencePack(forged, trusted);
    expect(result.ok).toBe(false);
    expect(result.checks.at(-1)).toMatchObject({ check: 'manifest', ok: false });
    expect(result.problem).toMatch(/signed by key attacker, which is not among the trusted keys/);
  });

  // Even someone holding the service key cannot change what the signed log and the signed grants say.
  it('refuses an event whose shown fields were edited', async () => {
    const edited = await resign(editLines(original, 'events.ndjson', (e) => (e.type === 'vote.cast' ? { ...e, data: { ...e.data, person: 'carol@example.com' } } : e)), serviceSign);
    expect((await verifyEvidencePack(edited, trusted)).problem).toMatch(/^event \d+: its fields differ from its signed payload/);
  });

  it('refuses an event rewritten with its payload (bob -> carol, re-hashed)', async () => {
    const rewritten = await resign(
      editLines(original, 'events.ndjson', (e) => {
        if (e.type !== 'vote.cast') return e;
        const payload = JSON.parse(e.payload);
        payload.data.person = 'carol@example.com';
        return { ...e, data: payload.data, payload: canonicalJson(payload) };
      }),
      serviceSign,
    );
    const result = await verifyEvidencePack(rewritten, trusted);
    expect(result.problem).toMatch(/^event \d+ \(leaf \d+\) is not in the signed checkpoint of size \d+: it was changed or never logged$/);
    expect(result.checks.at(-1)).toMatchObject({ check: 'events', ok: false });
  });

  it('refuses an event removed from the pack', async () => {
    const text = original.get('events.ndjson')!.toString().trim().split('\n');
    const dropped = await resign(new Map(original).set('events.ndjson', Buffer.from(text.filter((l) => !l.includes('"type":"request.decided"') || !l.includes(deniedId)).join('\n') + '\n')), serviceSign);
    expect((await verifyEvidencePack(dropped, trusted)).problem).toMatch(/proofs for events the pack does not hold/);
  });

  it('refuses a policy text that is not the version the requests name', async () => {
    const name = [...original.keys()].find((k) => /^policies\/[0-9a-f]{64}\.yaml$/.test(k))!;
    const edited = await resign(new Map(original).set(name, Buffer.from(`${original.get(name)!.toString()}\n# nobody needs approval\n`)), serviceSign);
    expect((await verifyEvidencePack(edited, trusted)).problem).toBe(`${name} does not hash to its name: the policy text was changed`);
  });

  it('refuses a grant for a request the trail does not show approved', async () => {
    const grants = original.get('grants.ndjson')!.toString().trim().split('\n').map((l) => JSON.parse(l) as PackGrant);
    const moved = grants.map((g) => ({ ...g, requestId: deniedId }));
    const edited = await resign(new Map(original).set('grants.ndjson', Buffer.from(moved.map((g) => JSON.stringify(g)).join('\n') + '\n')), serviceSign);
    expect((await verifyEvidencePack(edited, trusted)).problem).toMatch(/^the grant listed for request .* is the grant of /);
  });
});

it('answers a bad window with a 400 naming the field, and needs the audit scope', async () => {
  const missing = await t.call('GET', '/v1/evidence');
  expect(missing.status).toBe(400);
  expect(missing.body.error).toMatchObject({ code: 'validation_failed', field: 'since' });
  const backwards = await t.call('GET', `/v1/evidence?since=${encodeURIComponent(new Date().toISOString())}&until=2020-01-01T00:00:00Z`);
  expect(backwards.status).toBe(400);
  expect(backwards.body.error).toMatchObject({ code: 'invalid_window', field: 'since' });
  expect((await t.call('GET', `/v1/evidence?${window()}`, { key: t.keys.reader })).status).toBe(403);
});
