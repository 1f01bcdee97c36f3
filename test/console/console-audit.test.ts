/**
 * The console's audit pages through the real HTTP surface: auditors only; the trail with the same filters and body as
 * /v1/audit, its NDJSON export, the evidence pack, and verification in plain words (which catches a rewritten event).
 */
import pg from 'pg';
import { ConsoleBrowser, startConsoleApp } from '../support/console-client';
import { baseRequest, type TestApp } from '../support/start-app';

let t: TestApp;
let dave: ConsoleBrowser;
let alice: ConsoleBrowser;
let requestId: string;
const since = new Date(Date.now() - 60_000).toISOString();

beforeAll(async () => {
  t = await startConsoleApp({ env: { CONSOLE_AUDITOR_GROUPS: 'security', AUDIT_SEAL_INTERVAL_MS: '100' } });
  dave = await new ConsoleBrowser(t).signInWithLink('dave@example.com');
  alice = await new ConsoleBrowser(t).signInWithLink('alice@example.com');
  requestId = (await t.submit(baseRequest({ risk: 'low' }))).body.id;
  await alice.post(`/console/api/requests/${requestId}/decisions`, { decision: 'approve' });
});
afterAll(async () => {
  await t?.close();
});

it('is for auditors only', async () => {
  for (const path of ['/console/api/audit', '/console/api/audit.ndjson', `/console/api/evidence?since=${since}`]) {
    expect(await alice.get(path)).toMatchObject({ status: 403, body: { code: 'not_an_auditor' } });
  }
  expect(await alice.post('/console/api/verify')).toMatchObject({ status: 403, body: { code: 'not_an_auditor' } });
});

it('reads the trail with the API\'s filters and body', async () => {
  const q = `requestId=${requestId}&limit=2`;
  const page = await dave.get(`/console/api/audit?${q}`);
  expect(page.status).toBe(200);
  expect(page.body).toEqual((await t.call('GET', `/v1/audit?${q}`)).body);
  expect(page.body.items.map((e: any) => e.type)).toEqual(['request.submitted', 'policy.matched']);
  const next = await dave.get(`/console/api/audit?${q}&cursor=${page.body.nextCursor}`);
  expect(next.body.items[0].type).not.toBe('request.submitted');
  expect((await dave.get('/console/api/audit?type=vote.cast')).body.items).toEqual([expect.objectContaining({ channel: 'web', requestId })]);
  expect(await dave.get('/console/api/audit?since=yesterday')).toMatchObject({ status: 400, body: { code: 'validation_failed', field: 'since' } });
});

it('exports the trail as NDJSON', async () => {
  const res = await dave.get(`/console/api/audit.ndjson?requestId=${requestId}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/x-ndjson');
  const lines = (res.body as string).trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.map((e) => e.seq)).toEqual((await t.call('GET', `/v1/audit?requestId=${requestId}&limit=1000`)).body.items.map((e: any) => e.seq));
  expect(lines[0]).toMatchObject({ type: 'request.submitted', payload: expect.any(String) });
});

it('downloads the evidence pack of a window', async () => {
  const res = await fetch(`${t.baseUrl}/console/api/evidence?since=${encodeURIComponent(since)}`, { headers: { cookie: `cs_session=${dave.cookie}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/zip');
  expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="countersign-evidence-.*\.zip"$/);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(bytes.subarray(0, 4).toString('binary')).toBe('PK\x03\x04');
  expect(bytes.includes(Buffer.from('manifest'))).toBe(true);
  expect(await dave.get('/console/api/evidence')).toMatchObject({ status: 400, body: { code: 'validation_failed', field: 'since' } });
});

it('verifies the trail in plain words, and says so when an event was rewritten', async () => {
  expect(await dave.post('/console/api/verify', undefined, { 'x-csrf-token': 'nope' })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
  const ok = await t.waitFor(async () => {
    const r = await dave.post('/console/api/verify');
    return r.body.ok && r.body.checked.unsealed === 0 && r.body.checked.events > 0 ? r : undefined;
  }, 10_000, 'a sealed trail');
  expect(ok.status).toBe(200);
  expect(ok.body.summary).toMatch(/^The audit trail is intact: all \d+ recorded events match the \d+ signed checkpoints?/);
  expect(ok.body.problems).toEqual([]);
  expect(ok.body.checked.treeSize).toBe(ok.body.checked.events);

  const vote = (await t.call('GET', `/v1/audit?requestId=${requestId}&type=vote.cast`)).body.items[0];
  const client = new pg.Client({ connectionString: t.database.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL session_replication_role = replica');
    await client.query(`UPDATE audit_event SET payload = replace(payload, '"approve"', '"deny"') WHERE seq = $1`, [vote.seq]);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  const bad = await dave.post('/console/api/verify');
  expect(bad.status).toBe(200);
  expect(bad.body.ok).toBe(false);
  expect(bad.body.summary).toContain('FAILED verification');
  expect(bad.body.summary).toContain(`event ${vote.seq}`);
  expect(bad.body.problems[0]).toBe(`an event was changed after it was sealed (event ${vote.seq})`);
});
