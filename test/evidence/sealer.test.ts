/**
 * Sealing against real PostgreSQL, as the runtime role: concurrent writers (some holding their transaction open, so
 * lower ids commit after higher ones were sealed), several sealers racing for the lock, and a sealer that crashes
 * half-way through its transaction. Every committed event ends up sealed exactly once, at contiguous leaf positions,
 * and verification (which runs throughout) never raises a false alarm.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { AuditEventInput } from '../../src/domain/audit-event';
import { createCheckpointPublisher, createFileSink } from '../../src/evidence/checkpoint-sinks';
import { loadSigningKey, type SigningKey } from '../../src/evidence/signing-key';
import { createTransparencyLog, type TransparencyLog } from '../../src/evidence/transparency-log';
import { auditRowsParam, auditInsertSql } from '../../src/store/audit-store';
import { createStore, type Store } from '../../src/store/store';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
let db: TestDatabase;
let store: Store & { pool: pg.Pool };
let owner: pg.Client;
let key: SigningKey;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  store = createStore({ url: db.appUrl, poolSize: 12 });
  owner = new pg.Client({ connectionString: db.url });
  await owner.connect();
  dataDir = mkdtempSync(path.join(tmpdir(), 'cs-sealer-'));
  key = loadSigningKey({ dataDir, log: quiet });
});
afterAll(async () => {
  await store?.close();
  await owner?.end();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

function event(n: number, writer: number): AuditEventInput {
  return { type: 'test.event', requestId: null, actor: { key: `writer:${writer}` }, channel: 'api', at: new Date(), data: { n, writer } };
}

function logWith(k: SigningKey, batchSize?: number): TransparencyLog {
  return createTransparencyLog({ store: store.log, key: k, retiredKeys: [], origin: 'sealer.test/audit', log: quiet, batchSize });
}

async function counts() {
  const { rows } = await owner.query(`SELECT (SELECT count(*) FROM audit_event)::int AS events, (SELECT count(*) FROM audit_leaf)::int AS leaves,
    (SELECT count(DISTINCT seq) FROM audit_leaf)::int AS sealed_events, (SELECT coalesce(max(leaf_index) + 1, 0) FROM audit_leaf)::int AS next_leaf,
    (SELECT count(*) FROM audit_event e WHERE NOT EXISTS (SELECT 1 FROM audit_leaf l WHERE l.seq = e.seq))::int AS unsealed`);
  return rows[0] as { events: number; leaves: number; sealed_events: number; next_leaf: number; unsealed: number };
}

it('seals a late commit (a lower seq committed after higher ones were sealed) in a later checkpoint', async () => {
  const log = logWith(key);
  const late = new pg.Client({ connectionString: db.appUrl });
  await late.connect();
  try {
    await late.query('BEGIN');
    const { rows } = await late.query(`${auditInsertSql('$1')} RETURNING seq::text AS seq`, [auditRowsParam([event(0, 99)])]);
    const lateSeq = rows[0].seq as string;
    await store.audit.append([event(1, 1), event(2, 1)]);
    const first = await log.seal();
    expect(first.sealed).toBe(2);
    await late.query('COMMIT');
    const second = await log.seal();
    expect(second.sealed).toBe(1);
    const leaf = await owner.query('SELECT leaf_index::int AS i FROM audit_leaf WHERE seq = $1', [lateSeq]);
    expect(leaf.rows[0].i).toBe(2);
    expect(BigInt(lateSeq)).toBeLessThan(BigInt((await owner.query('SELECT max(seq)::text AS s FROM audit_event')).rows[0].s));
  } finally {
    await late.end();
  }
  expect(await log.verify()).toMatchObject({ ok: true, checked: 3, treeSize: 3, checkpoints: 2, unsealed: 0 });
});

it('with concurrent writers, racing sealers and one crashing mid-transaction, seals every committed event exactly once', async () => {
  // A key whose signer fails on some calls: the crash happens after leaves and hashes were written in the transaction.
  let signatures = 0;
  const crashing: SigningKey = {
    ...key,
    noteSigner: (name) => {
      const s = key.noteSigner(name);
      return { ...s, sign: (m) => (++signatures % 3 === 0 ? (() => { throw new Error('sealer died'); })() : s.sign(m)) };
    },
  };
  const sealers = [logWith(key, 50), logWith(key, 7), logWith(crashing, 20)];
  let writing = true;
  let crashes = 0;
  let busy = 0;
  const verifications: Awaited<ReturnType<TransparencyLog['verify']>>[] = [];

  const writers = Array.from({ length: 6 }, async (_, w) => {
    const client = new pg.Client({ connectionString: db.appUrl });
    await client.connect();
    try {
      for (let n = 0; n < 40; n++) {
        // Half the writes sit in an open transaction for a while: their ids are drawn early and commit late.
        if (n % 2 === 0) {
          await client.query('BEGIN');
          await client.query(auditInsertSql('$1'), [auditRowsParam([event(n, w), event(n + 1000, w)])]);
          await new Promise((r) => setTimeout(r, Math.random() * 30));
          // Some never commit at all: their ids are gaps, never leaves.
          await client.query(n % 10 === 0 ? 'ROLLBACK' : 'COMMIT');
        } else {
          await client.query(auditInsertSql('$1'), [auditRowsParam([event(n, w)])]);
        }
      }
    } finally {
      await client.end();
    }
  });
  const sealing = sealers.map(async (log) => {
    while (writing) {
      await log.seal().then(
        (r) => (busy += r.busy ? 1 : 0),
        () => crashes++,
      );
      await new Promise((r) => setTimeout(r, Math.random() * 10));
    }
  });
  const verifying = (async () => {
    while (writing) {
      verifications.push(await sealers[0].verify());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  await Promise.all(writers);
  writing = false;
  await Promise.all([...sealing, verifying]);
  // After the writers: the survivors finish the job.
  await sealers[0].seal();

  const c = await counts();
  expect(c.unsealed).toBe(0);
  expect(c.leaves).toBe(c.events);
  expect(c.sealed_events).toBe(c.events);
  expect(c.next_leaf).toBe(c.leaves); // positions 0..n-1, no gap, none taken twice
  expect(crashes).toBeGreaterThan(0);
  expect(verifications.length).toBeGreaterThan(3);
  expect(verifications.filter((v) => !v.ok)).toEqual([]);
  const final = await sealers[1].verify();
  expect(final).toMatchObject({ ok: true, checked: c.events, treeSize: c.events, unsealed: 0 });
  // Every checkpoint links to the previous one: the history of sizes is what the sealers committed, in order.
  const sizes = (await owner.query('SELECT tree_size::int AS s FROM audit_checkpoint ORDER BY tree_size')).rows.map((r) => r.s);
  expect(sizes[sizes.length - 1]).toBe(c.events);
});

it('a sealer refuses to extend a checkpoint it cannot verify, and verification names the unknown key', async () => {
  await store.audit.append([event(1, 7)]);
  const stranger = loadSigningKey({ inlineKey: generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'), dataDir, log: quiet });
  // It cannot open the latest checkpoint (signed by a key it does not trust), so it refuses to extend it.
  await expect(logWith(stranger).seal()).rejects.toThrow(/refusing to extend checkpoint/);
  expect((await counts()).unsealed).toBe(1);
  await logWith(key).seal();
  expect((await logWith(stranger).verify()).firstProblem).toMatchObject({ problem: 'unknown_key' });
});

it('publishes each checkpoint once to a directory, and retries a failing sink without blocking sealing', async () => {
  const dir = path.join(dataDir, 'published');
  const files = createFileSink(dir);
  let failing = true;
  const attempts: number[] = [];
  const flaky = { name: 'flaky', publish: async (c: { treeSize: number }) => { attempts.push(c.treeSize); if (failing) throw new Error('down'); } };
  let clock = 0;
  const publisher = createCheckpointPublisher({ store: store.log, sinks: [files, flaky], log: quiet, now: () => clock });
  await store.audit.append([event(1, 8)]);
  const sealed = await logWith(key).seal();
  const size = sealed.checkpoints[0].treeSize;
  await publisher.publishPending();
  const latest = await files.latest();
  expect(latest).toBe(sealed.checkpoints[0].note);
  expect(attempts.length).toBeGreaterThan(0);
  // Publishing again writes nothing new (exclusive create, same content accepted).
  await publisher.publishPending();
  // The flaky sink backs off; once it works, it catches up on every checkpoint it missed, in order.
  failing = false;
  clock += 120_000;
  await publisher.publishPending();
  const published = await owner.query(`SELECT tree_size::int AS s FROM audit_checkpoint_publication WHERE sink = 'flaky' ORDER BY tree_size`);
  expect(published.rows.map((r) => r.s)).toContain(size);
  const all = (await owner.query('SELECT tree_size::int AS s FROM audit_checkpoint ORDER BY tree_size')).rows.map((r) => r.s);
  expect(published.rows.map((r) => r.s)).toEqual(all);
});
