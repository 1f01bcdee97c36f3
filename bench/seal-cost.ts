/**
 * `npx tsx bench/seal-cost.ts`: the CPU the audit trail costs per event, measured on one connection at a time so the
 * figures hold on a busy machine too (they are CPU seconds of the PostgreSQL backend doing the work, read from /proc,
 * not throughput):
 *
 *   1. appending events as intake does (3 per statement, the product's insert);
 *   2. the same with the retired per-row hash-chain trigger put back (its columns, its chain heads, its function),
 *      i.e. what every intake paid before the transparency log;
 *   3. sealing those events later (the product's sealer: read, hash, leaves, subtree hashes, signed checkpoint), in
 *      PostgreSQL and in the sealer's Node process.
 *
 * Uses throw-away databases on the bench's server (BENCH_ADMIN_DATABASE_URL), dropped at the end. SEAL_COST_EVENTS
 * sets how many events each measurement appends (default 30,000).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { AuditEventInput } from '../src/domain/audit-event';
import { loadSigningKey } from '../src/evidence/signing-key';
import { createTransparencyLog } from '../src/evidence/transparency-log';
import { auditInsertSql, auditRowsParam } from '../src/store/audit-store';
import { applyMigrations } from '../src/store/migrate';
import { createStore } from '../src/store/store';
import { adminQuery, createDatabase, databaseUrl, dropDatabase, ROOT } from './bench-support';

const EVENTS = Number(process.env.SEAL_COST_EVENTS ?? 30_000);
const PER_STATEMENT = 3;
const CLK_TCK = 100;

function backendTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** Events shaped like intake's (a policy.matched with its approver group is the largest). */
function events(n: number, offset: number): AuditEventInput[] {
  const members = Array.from({ length: 20 }, (_, i) => `approver-${i + 1}@example.com`);
  return Array.from({ length: n }, (_, i) => ({
    type: 'policy.matched',
    requestId: `00000000-0000-4000-8000-${String(offset + i).padStart(12, '0')}`,
    actor: { key: 'policy' },
    channel: 'api',
    at: new Date(),
    data: { rule: 'dataset-export', outcome: 'require', requirement: { approvers: ['data-owners'], members, approvals: 1, channels: ['slack:C0BENCH'] }, n: offset + i },
  }));
}

/** The retired hot-path trigger, as prisma/migrations/20261121000100_audit_trail_guards created it (one chain here). */
const RETIRED_CHAIN = `
ALTER TABLE audit_event ADD COLUMN chain smallint NOT NULL DEFAULT 0, ADD COLUMN prev_hash text NOT NULL DEFAULT '', ADD COLUMN hash text NOT NULL DEFAULT '';
CREATE TABLE audit_chain_head (chain smallint PRIMARY KEY, last_seq bigint NOT NULL DEFAULT 0, last_hash text NOT NULL);
INSERT INTO audit_chain_head SELECT c, 0, repeat('0', 64) FROM generate_series(0, 15) AS c;
CREATE FUNCTION audit_event_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE prev text;
BEGIN
  SELECT last_hash INTO prev FROM audit_chain_head WHERE chain = NEW.chain FOR UPDATE;
  NEW.seq := nextval(pg_get_serial_sequence('audit_event', 'seq'));
  NEW.prev_hash := prev;
  NEW.hash := encode(sha256(convert_to(prev || '|' || NEW.seq::text || '|' || NEW.payload, 'UTF8')), 'hex');
  UPDATE audit_chain_head SET last_hash = NEW.hash, last_seq = NEW.seq WHERE chain = NEW.chain;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_event_chain BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_chain();`;

/** PostgreSQL CPU per event appended, in µs. */
async function appendCost(url: string, offset: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const sql = auditInsertSql('$1');
    const batches = Array.from({ length: EVENTS / PER_STATEMENT }, (_, b) => auditRowsParam(events(PER_STATEMENT, offset + b * PER_STATEMENT)));
    const before = backendTicks(pid);
    for (const param of batches) await client.query({ name: 'append', text: sql, values: [param] });
    return ((backendTicks(pid) - before) / CLK_TCK / EVENTS) * 1e6;
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const name = `cs_sealcost_${process.pid}`;
  const chained = `${name}_chain`;
  const migrationsDir = path.join(ROOT, 'prisma', 'migrations');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cs-sealcost-'));
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  try {
    await createDatabase(name);
    const url = databaseUrl(name);
    await applyMigrations({ databaseUrl: url, migrationsDir });
    await appendCost(url, 0); // warm caches and plans
    const append = await appendCost(url, EVENTS);

    const store = createStore({ url, poolSize: 1 });
    // About a second's worth of intake at 1,500 req/s per seal transaction, as the sealer sees it under load.
    const sealer = createTransparencyLog({ store: store.log, key: loadSigningKey({ dataDir, log: quiet }), retiredKeys: [], origin: 'seal-cost/audit', log: quiet, batchSize: 4_000 });
    const sealerPid = (await store.pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    await sealer.seal(); // the events so far, and the first seal's full sweep
    await appendCost(url, 2 * EVENTS);
    const pgBefore = backendTicks(sealerPid);
    const nodeBefore = process.cpuUsage();
    const { sealed, checkpoints } = await sealer.seal();
    const node = process.cpuUsage(nodeBefore);
    const sealPg = ((backendTicks(sealerPid) - pgBefore) / CLK_TCK / sealed) * 1e6;
    const sealNode = (node.user + node.system) / sealed;
    await store.close();

    await createDatabase(chained);
    const chainUrl = databaseUrl(chained);
    await applyMigrations({ databaseUrl: chainUrl, migrationsDir });
    await adminQuery(RETIRED_CHAIN, [], chainUrl);
    await appendCost(chainUrl, 0);
    const withChain = await appendCost(chainUrl, EVENTS);

    console.log(`PostgreSQL CPU per audit event (${EVENTS.toLocaleString('en-US')} events, ${PER_STATEMENT} per statement, one connection):`);
    console.log(`  appended on the hot path, now:                    ${append.toFixed(1)} µs`);
    console.log(`  appended with the retired per-row chain trigger:  ${withChain.toFixed(1)} µs`);
    console.log(`  sealed later (off the hot path):                  ${sealPg.toFixed(1)} µs in PostgreSQL + ${sealNode.toFixed(1)} µs in the sealer's Node process (${sealed.toLocaleString('en-US')} events, ${checkpoints.length} checkpoints)`);
  } finally {
    await dropDatabase(name).catch(() => undefined);
    await dropDatabase(chained).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
