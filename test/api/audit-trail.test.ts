/**
 * The audit trail over HTTP: filters; an NDJSON export the offline verifier checks against the published checkpoints
 * and the public key; checkpoints, inclusion and consistency proofs any RFC 9162 client can check; and the issue's
 * reproduction: the database superuser switches triggers off, deletes a denied request's events, rewrites bob ->
 * carol, and re-does every hash the database holds. Verification (API and offline) says so and names the first
 * event that does not match; rolling the database back behind its published checkpoints is caught too.
 *
 * The app runs with RUN_MODE=api (no background sealer, no deliveries), and the test seals explicitly, so which
 * events each checkpoint covers is known.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { runCli } from '../../src/cli/cli';
import { CompactTree, isStoredLevel, leafHash, verifyConsistency, verifyInclusion } from '../../src/domain/merkle';
import { ed25519RawPublicKey, openNote, parseVerifierKey, verifierKeyString } from '../../src/domain/signed-note';
import { parseCheckpoint } from '../../src/domain/checkpoint';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let ids: string[];
let denied: string;
let scratch: string;
const seal = () => t.app.evidence.sealer.sealNow();

beforeAll(async () => {
  t = await startTestApp({ env: { RUN_MODE: 'api' } });
  scratch = mkdtempSync(path.join(tmpdir(), 'cs-audit-'));
  ids = [];
  for (let i = 0; i < 3; i++) {
    const { body } = await t.submit(baseRequest({ action: 'service.restart', resource: `k8s://prod/svc-${i}` }));
    ids.push(body.id);
  }
  await seal();
  const d = await t.submit(baseRequest({ action: 'bucket.delete', resource: 's3://prod/invoices' }));
  expect(d.body.status).toBe('denied');
  denied = d.body.id;
  await seal();
  await t.call('POST', `/v1/requests/${ids[0]}/decisions`, { key: t.keys.approver, body: { approver: { email: 'bob@example.com' }, decision: 'approve' } });
  await seal();
  await t.call('POST', `/v1/requests/${ids[1]}/decisions`, { key: t.keys.approver, body: { approver: { email: 'etl-agent@example.com' }, decision: 'approve' } });
  await seal();
});
afterAll(async () => {
  await t?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

async function exportFile(name: string): Promise<string> {
  const res = await t.call('GET', '/v1/audit?format=ndjson');
  expect(res.headers.get('content-type')).toContain('application/x-ndjson');
  const file = path.join(scratch, name);
  writeFileSync(file, res.body as string);
  return file;
}

async function offlineVerify(file: string, key: string): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCli(['verify', '--events', file, '--checkpoints', t.app.evidence.checkpointDir, '--key', key, '--json'], (s) => out.push(s));
  return { code, out: out.join('\n') };
}

const verifierKey = async () => (await t.call('GET', '/v1/audit/checkpoints?limit=1')).body.keys[0].verifierKey as string;

it('requires the audit scope', async () => {
  for (const p of ['/v1/audit', '/v1/audit/verify', '/v1/audit/checkpoints', '/v1/audit/proof?event=1', '/v1/audit/consistency?from=1']) {
    expect((await t.call('GET', p, { key: t.keys.agent })).status).toBe(403);
  }
});

it('filters by approver, requester, resource glob and type', async () => {
  const byApprover = await t.call('GET', '/v1/audit?approver=bob@example.com');
  expect(byApprover.body.items.map((e: { type: string }) => e.type)).toEqual(['vote.cast', 'request.decided']);
  const byResource = await t.call('GET', '/v1/audit?resource=k8s://prod/svc-1&type=vote.refused');
  expect(byResource.body.items).toHaveLength(1);
  expect(byResource.body.items[0].data.refusal).toBe('self_approval');
  const byRequester = await t.call('GET', '/v1/audit?requester=etl-agent-7&type=request.submitted&limit=2');
  expect(byRequester.body.items).toHaveLength(2);
  const next = await t.call('GET', `/v1/audit?requester=etl-agent-7&type=request.submitted&limit=2&cursor=${byRequester.body.nextCursor}`);
  expect(next.body.items).toHaveLength(2);
  const badField = await t.call('GET', '/v1/audit?since=yesterday-ish');
  expect(badField.status).toBe(400);
  expect(badField.body.error.field).toBe('since');
});

it('exports NDJSON that the offline verifier checks against the published checkpoints and the public key', async () => {
  const file = await exportFile('intact.ndjson');
  const rows = (await t.call('GET', '/v1/audit?format=ndjson')).body.trim().split('\n').map((l: string) => JSON.parse(l));
  expect(rows.length).toBeGreaterThan(10);
  for (const r of rows) {
    expect(r.leafIndex).toMatch(/^\d+$/);
    expect(leafHash(r.payload).toString('base64')).toBe(r.leafHash);
  }
  const byVerifierKey = await offlineVerify(file, await verifierKey());
  expect(byVerifierKey.code).toBe(0);
  expect(JSON.parse(byVerifierKey.out)).toMatchObject({ ok: true, checked: rows.length, treeSize: rows.length, firstProblem: null });
  // The same with the public key as a PEM file, as an auditor may hold it.
  const pem = path.join(scratch, 'public.pem');
  writeFileSync(pem, t.app.evidence.key.publicKey.export({ format: 'pem', type: 'spki' }) as string);
  expect((await offlineVerify(file, pem)).code).toBe(0);
  // A key the log never used verifies nothing.
  const stranger = ed25519RawPublicKey(createPublicKey(generateKeyPairSync('ed25519').privateKey));
  const refused = await offlineVerify(file, verifierKeyString('localhost:0/audit', stranger));
  expect(refused.code).toBe(1);
  expect(JSON.parse(refused.out).firstProblem).toMatchObject({ problem: 'unknown_key' });
  expect((await runCli(['verify', '--events', file], () => undefined))).toBe(64);
});

it('verifies through the API with no false alarm, and lists signed checkpoints', async () => {
  const verify = await t.call('GET', '/v1/audit/verify');
  expect(verify.status).toBe(200);
  expect(verify.body).toMatchObject({ ok: true, unsealed: 0, firstProblem: null, checkpoint: { signedBy: [expect.stringMatching(/^localhost:0\/audit\+[0-9a-f]{8}$/)] } });
  expect(verify.body.published).toEqual({ treeSize: verify.body.treeSize, rootHash: verify.body.checkpoint.rootHash });
  const page = await t.call('GET', '/v1/audit/checkpoints?limit=2');
  expect(page.body.items).toHaveLength(2);
  expect(page.body.items[0].treeSize).toBe(verify.body.treeSize);
  const rest = await t.call('GET', `/v1/audit/checkpoints?limit=100&cursor=${page.body.nextCursor}`);
  expect(rest.body.items.length).toBeGreaterThanOrEqual(2);
  const key = parseVerifierKey(page.body.keys[0].verifierKey);
  for (const c of [...page.body.items, ...rest.body.items]) {
    const { text } = openNote(c.note, [key]);
    expect(parseCheckpoint(text)).toMatchObject({ origin: 'localhost:0/audit', treeSize: c.treeSize });
  }
});

it('proves an event is in a checkpoint, and that checkpoints extend each other', async () => {
  const vote = (await t.call('GET', '/v1/audit?approver=bob@example.com&type=vote.cast')).body.items[0];
  const proof = await t.call('GET', `/v1/audit/proof?event=${vote.seq}`);
  expect(proof.status).toBe(200);
  const root = Buffer.from(proof.body.rootHash, 'base64');
  const path_ = proof.body.proof.map((p: string) => Buffer.from(p, 'base64'));
  expect(verifyInclusion(leafHash(vote.payload), proof.body.leafIndex, proof.body.treeSize, path_, root)).toBe(true);
  expect(proof.body.leafIndex).toBe(Number(vote.leafIndex));

  const sizes = (await t.call('GET', '/v1/audit/checkpoints')).body.items.map((c: { treeSize: number }) => c.treeSize).reverse();
  const atFirst = await t.call('GET', `/v1/audit/proof?event=${(await t.call('GET', '/v1/audit?limit=1')).body.items[0].seq}&treeSize=${sizes[0]}`);
  expect(atFirst.body.treeSize).toBe(sizes[0]);
  for (const from of sizes.slice(0, -1)) {
    const c = await t.call('GET', `/v1/audit/consistency?from=${from}`);
    expect(c.status).toBe(200);
    const ok = verifyConsistency(c.body.from, c.body.to, Buffer.from(c.body.fromRoot, 'base64'), Buffer.from(c.body.toRoot, 'base64'), c.body.proof.map((p: string) => Buffer.from(p, 'base64')));
    expect({ from, ok }).toEqual({ from, ok: true });
  }

  expect((await t.call('GET', '/v1/audit/proof?event=999999999')).body.error.code).toBe('not_found');
  expect((await t.call('GET', `/v1/audit/proof?event=${vote.seq}&treeSize=${sizes[sizes.length - 1] + 1}`)).body.error.code).toBe('checkpoint_not_found');
  expect((await t.call('GET', `/v1/audit/consistency?from=${sizes[1]}&to=${sizes[0]}`)).status).toBe(400);
  expect((await t.call('GET', '/v1/audit/proof?event=abc')).status).toBe(400);
  // An event committed after the last seal is not in the log yet: 409 until the sealer runs.
  const fresh = await t.submit(baseRequest({ action: 'service.restart', resource: 'k8s://prod/late' }));
  const lateEvent = (await t.call('GET', `/v1/audit?requestId=${fresh.body.id}`)).body.items[0];
  expect(lateEvent.leafIndex).toBeNull();
  const unsealed = await t.call('GET', `/v1/audit/proof?event=${lateEvent.seq}`);
  expect(unsealed).toMatchObject({ status: 409, body: { error: { code: 'not_sealed' } } });
  expect((await t.call('GET', '/v1/audit/verify')).body).toMatchObject({ ok: true, unsealed: 2 });
  await seal();
  expect((await t.call('GET', `/v1/audit/proof?event=${lateEvent.seq}`)).status).toBe(200);
});

describe('the issue reproduction: the database superuser rewrites the trail and re-does every hash', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });

  /** What an attacker with the code but not the key can redo: leaf positions, leaf hashes, stored subtree hashes, checkpoint columns. */
  async function rehashEverything(): Promise<void> {
    const { rows } = await client.query<{ seq: string; payload: string }>(
      'SELECT e.seq::text AS seq, e.payload FROM audit_leaf l JOIN audit_event e ON e.seq = l.seq ORDER BY l.leaf_index',
    );
    const tree = new CompactTree();
    const nodes: { level: number; index: number; hash: Buffer }[] = [];
    const roots = new Map<number, Buffer>();
    await client.query('DELETE FROM audit_leaf');
    for (const r of rows) {
      const h = leafHash(r.payload);
      await client.query('INSERT INTO audit_leaf (leaf_index, seq, leaf_hash) VALUES ($1, $2, $3)', [tree.size, r.seq, h]);
      tree.append(h, (n) => isStoredLevel(n.level) && nodes.push(n));
      roots.set(tree.size, tree.root());
    }
    await client.query('DELETE FROM audit_node');
    for (const n of nodes) await client.query('INSERT INTO audit_node (level, idx, hash) VALUES ($1, $2, $3)', [n.level, n.index, n.hash]);
    for (const [size, root] of roots) await client.query('UPDATE audit_checkpoint SET root_hash = $2 WHERE tree_size = $1', [size, root]);
  }

  async function tamper(sql: () => Promise<void>): Promise<void> {
    await client.query('BEGIN');
    // The owner's (or superuser's) switch for every trigger of the session, append-only guards included.
    await client.query('SET LOCAL session_replication_role = replica');
    await sql();
    await client.query('COMMIT');
  }

  it('catches bob -> carol, naming the rewritten event, through the API and offline', async () => {
    const bobVote = (await t.call('GET', '/v1/audit?approver=bob@example.com&type=vote.cast')).body.items[0];
    // The append-only trigger still refuses the ordinary way.
    await expect(client.query(`UPDATE audit_event SET payload = 'x' WHERE seq = $1`, [bobVote.seq])).rejects.toMatchObject({ code: '55000' });
    await tamper(async () => {
      await client.query(
        `UPDATE audit_event SET payload = replace(payload, 'bob@example.com', 'carol@example.com'), actor = replace(actor, 'bob@', 'carol@'),
           actor_ids = array_replace(actor_ids, 'bob@example.com', 'carol@example.com') WHERE request_id = $1 AND actor_ids @> ARRAY['bob@example.com']`,
        [ids[0]],
      );
      await rehashEverything();
    });
    const verify = await t.call('GET', '/v1/audit/verify');
    expect(verify.body.ok).toBe(false);
    expect(verify.body.firstProblem).toMatchObject({ problem: 'root_mismatch', seq: bobVote.seq, leafIndex: bobVote.leafIndex });

    const offline = await offlineVerify(await exportFile('carol.ndjson'), await verifierKey());
    expect(offline.code).toBe(1);
    expect(JSON.parse(offline.out).firstProblem).toMatchObject({ problem: 'root_mismatch', seq: bobVote.seq, leafIndex: bobVote.leafIndex });
  });

  it('catches every event of a denied request deleted, naming the position where they were', async () => {
    const deniedEvents = (await t.call('GET', `/v1/audit?requestId=${denied}`)).body.items;
    expect(deniedEvents.map((e: { type: string }) => e.type)).toContain('request.decided');
    const firstLeaf = Math.min(...deniedEvents.map((e: { leafIndex: string }) => Number(e.leafIndex)));
    await tamper(async () => {
      await client.query('DELETE FROM audit_event WHERE request_id = $1', [denied]);
      await rehashEverything();
    });
    const verify = await t.call('GET', '/v1/audit/verify');
    expect(verify.body).toMatchObject({ ok: false, firstProblem: { problem: 'root_mismatch', leafIndex: String(firstLeaf) } });
    expect(verify.body.firstProblem.message).toContain(`leaves 0..${firstLeaf - 1} do`);
    const offline = await offlineVerify(await exportFile('deleted.ndjson'), await verifierKey());
    expect(JSON.parse(offline.out).firstProblem).toMatchObject({ problem: 'root_mismatch', leafIndex: String(firstLeaf) });
  });

  it('catches the database rolled back to a consistent earlier state, from the checkpoints published outside it', async () => {
    // Keep only the checkpoints the rewritten tree still matches: the database is now consistent with itself.
    const { rows } = await client.query<{ first: string }>(
      `SELECT min(l.leaf_index)::text AS first FROM audit_leaf l JOIN audit_event e ON e.seq = l.seq WHERE e.payload LIKE '%carol@example.com%'`,
    );
    await tamper(async () => {
      await client.query('DELETE FROM audit_checkpoint WHERE tree_size > $1', [Number(rows[0].first)]);
      await client.query('DELETE FROM audit_checkpoint WHERE tree_size > (SELECT min(tree_size) FROM audit_checkpoint)');
    });
    const verify = await t.call('GET', '/v1/audit/verify');
    expect(verify.body).toMatchObject({ ok: false, firstProblem: { problem: 'behind_published' } });
    // The sealer will not sign a checkpoint that forks from what it published either.
    await expect(seal()).rejects.toThrow(/refusing to fork/);
  });
});
