/**
 * The transparency log while the service works: verification during intake load never raises a false alarm (the old
 * per-chain verifier did, in 25 of 40 runs), every event is sealed within a few seal intervals of its commit, and each
 * checkpoint reaches the webhook sink signed with the service key, retried when the receiver fails.
 */
import { verify as verifySignature } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let receiver: http.Server;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
let failFirst = 2;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (failFirst-- > 0) {
        res.writeHead(503).end();
        return;
      }
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;
  t = await startTestApp({ env: { AUDIT_SEAL_INTERVAL_MS: '50', CHECKPOINT_WEBHOOK_URL: `http://127.0.0.1:${port}/checkpoints` } });
});
afterAll(async () => {
  await t?.close();
  await new Promise((r) => receiver?.close(r));
});

it('verifies without a false alarm during intake load, and seals within a few intervals of the commits', async () => {
  let loading = true;
  const submitted: string[] = [];
  const load = Array.from({ length: 3 }, async (_, w) => {
    for (let i = 0; loading && i < 40; i++) {
      const routine = i % 2 === 0;
      const res = await t.submit(baseRequest(routine ? { action: 'table.read', environment: 'dev', resource: `db://w${w}/t${i}` } : { action: 'service.restart', resource: `k8s://w${w}/s${i}` }));
      expect(res.status).toBe(202);
      submitted.push(res.body.id);
      if (!routine && i % 4 === 1) {
        await t.call('POST', `/v1/requests/${res.body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
      }
    }
  });
  const results: { ok: boolean; firstProblem: unknown; treeSize: number }[] = [];
  const verifying = (async () => {
    for (let i = 0; i < 40; i++) results.push((await t.call('GET', '/v1/audit/verify')).body);
  })();
  await verifying;
  loading = false;
  await Promise.all(load);
  expect(results.filter((r) => !r.ok)).toEqual([]);
  expect(results[results.length - 1].treeSize).toBeGreaterThan(results[0].treeSize);
  expect(submitted.length).toBeGreaterThan(30);

  // Everything committed gets sealed shortly after (the background sealer runs every 50 ms here).
  const done = await t.waitFor(async () => {
    const v = (await t.call('GET', '/v1/audit/verify')).body;
    return v.unsealed === 0 && v.ok ? v : null;
  }, 5_000, 'every event sealed');
  expect(done.checked).toBeGreaterThan(submitted.length * 2);
});

it('posts each checkpoint to the webhook, signed with the service key, retrying a failing receiver', async () => {
  const latest = (await t.call('GET', '/v1/audit/checkpoints?limit=1')).body;
  const size = latest.items[0].treeSize;
  const got = await t.waitFor(async () => received.find((r) => JSON.parse(r.body).treeSize === size), 10_000, 'the latest checkpoint at the webhook');
  const key = t.app.evidence.key;
  expect(got.headers['countersign-key-id']).toBe(key.kid);
  expect(verifySignature(null, Buffer.from(got.body), key.publicKey, Buffer.from(String(got.headers['countersign-signature']), 'base64'))).toBe(true);
  expect(JSON.parse(got.body)).toMatchObject({ type: 'audit.checkpoint', treeSize: size, note: latest.items[0].note });
  // The receiver refused the first attempts: nothing was lost, every checkpoint up to that one arrived.
  const all: number[] = (await t.call('GET', '/v1/audit/checkpoints?limit=1000')).body.items.map((c: { treeSize: number }) => c.treeSize);
  const arrived = new Set(received.map((r) => JSON.parse(r.body).treeSize));
  expect(all.filter((s) => s <= size && !arrived.has(s))).toEqual([]);
});
