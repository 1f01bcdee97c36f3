/** The audit trail: filters, NDJSON export verifiable offline, chain verification and tamper detection. */
import pg from 'pg';
import { chainHash, GENESIS_HASH } from '../../src/domain/audit-chain';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let ids: string[];
beforeAll(async () => {
  t = await startTestApp();
  ids = [];
  for (let i = 0; i < 3; i++) {
    const { body } = await t.submit(baseRequest({ action: 'service.restart', resource: `k8s://prod/svc-${i}` }));
    ids.push(body.id);
  }
  await t.call('POST', `/v1/requests/${ids[0]}/decisions`, { key: t.keys.approver, body: { approver: { email: 'bob@example.com' }, decision: 'approve' } });
  await t.call('POST', `/v1/requests/${ids[1]}/decisions`, { key: t.keys.approver, body: { approver: { email: 'etl-agent@example.com' }, decision: 'approve' } });
});
afterAll(async () => {
  await t?.close();
});

it('requires the audit scope', async () => {
  const res = await t.call('GET', '/v1/audit', { key: t.keys.agent });
  expect(res.status).toBe(403);
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
  expect(next.body.items).toHaveLength(1);
  const badField = await t.call('GET', '/v1/audit?since=yesterday-ish');
  expect(badField.status).toBe(400);
  expect(badField.body.error.field).toBe('since');
});

it('exports NDJSON that an auditor can verify without the service', async () => {
  const res = await t.call('GET', '/v1/audit?format=ndjson');
  expect(res.headers.get('content-type')).toContain('application/x-ndjson');
  const rows = (res.body as string).trim().split('\n').map((l) => JSON.parse(l));
  expect(rows.length).toBeGreaterThan(8);
  const last = new Map<number, string>();
  for (const r of rows) {
    expect(r.prevHash).toBe(last.get(r.chain) ?? GENESIS_HASH);
    expect(chainHash(r.prevHash, r.seq, r.payload)).toBe(r.hash);
    last.set(r.chain, r.hash);
  }
});

it('verifies the chain, and names the first broken link after tampering', async () => {
  expect((await t.call('GET', '/v1/audit/verify')).body).toMatchObject({ ok: true, firstBreak: null });
  const client = new pg.Client({ connectionString: t.database.url });
  await client.connect();
  try {
    // The append-only trigger refuses ordinary UPDATE and DELETE.
    await expect(client.query(`UPDATE audit_event SET actor = 'someone-else' WHERE type = 'vote.cast'`)).rejects.toMatchObject({ code: '55000' });
    await expect(client.query(`DELETE FROM audit_event WHERE type = 'vote.cast'`)).rejects.toMatchObject({ code: '55000' });
    // A superuser who bypasses triggers can still rewrite a row; verification catches it.
    const { rows } = await client.query(`SELECT seq FROM audit_event WHERE type = 'vote.cast' ORDER BY seq LIMIT 1`);
    await client.query(`SET session_replication_role = replica`);
    await client.query(`UPDATE audit_event SET payload = replace(payload, 'bob@example.com', 'mallory@example.com') WHERE seq = $1`, [rows[0].seq]);
    await client.query(`SET session_replication_role = origin`);
    const verify = await t.call('GET', '/v1/audit/verify');
    expect(verify.body.ok).toBe(false);
    expect(verify.body.firstBreak).toMatchObject({ seq: String(rows[0].seq), problem: 'hash_mismatch' });
  } finally {
    await client.end();
  }
});
