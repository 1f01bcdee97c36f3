/**
 * `npm run bench`: throughput and latency of Countersign's hot paths against two baselines doing the same durable
 * writes, measured in the same run on the same machine.
 *
 * - Countersign runs as a child process (`node --import tsx src/main.ts`, RUN_MODE=api: the HTTP node only; workers
 *   scale separately), on a fresh database migrated with applyMigrations (connecting as the runtime role, as in
 *   production), a generated policy and a unique Redis prefix. Its sealer runs beside it in its own process
 *   (bench/sealer-process.ts, what a worker node does for the transparency log), so the cost of sealing shares the
 *   machine with the measured intake, and after each intake cell the bench prints how far behind the sealer was.
 * - The bare baseline (bench/bare-baseline-server.ts) runs as another child process on its own fresh database: the
 *   same statements as Countersign's hot paths (intake and votes), without auth, validation or policy.
 * - The minimal durable write (bench/minimal-write-server.ts), intake only, on a third database: one plain INSERT of
 *   the same request row and audit rows and the same queue adds. The intake target is a ratio to this one.
 * - The load comes from autocannon in THIS process, so load generation never shares an event loop with a server
 *   (it does share the machine's cores: the figures are for load generator + server + Postgres + Redis on one box).
 *
 * Scenarios, each at 1, 10 and 50 connections after a short warm-up, alternating Countersign and baseline per cell:
 *   1. intake of a request the policy sends to approvers (pending: row + 2 audit events + card and expiry jobs);
 *   2. intake of a routine request the policy approves outright (row + 3 audit events, no job);
 *   3. a vote through POST /v1/requests/:id/decisions (every vote on a distinct pending request, from one of 20
 *      distinct approvers; each decides its request, as with the common `approvals: 1`).
 *   4. optionally, the Slack button callback (bench/slack-callback-bench.ts, when present), at 50 connections.
 *
 * Env knobs: BENCH_DURATION (s per cell, default 8), BENCH_WARMUP (s, default 2), BENCH_CONNECTIONS (default 1,10,50),
 * BENCH_SCENARIOS (comma list of pending,auto,decision,longpoll,slack; default all), BENCH_LOG_LEVEL (Countersign LOG_LEVEL,
 * default warn), BENCH_EXTRA_ENV (extra `K=V;K=V` for Countersign, for experiments), BENCH_NODE_ARGS (extra node flags
 * for Countersign, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`), BENCH_COUNTERSIGN_ENTRY (another entry point than
 * src/main.ts, e.g. a patched copy of src/ for an experiment), BENCH_KEEP_DATA=1 (keep the databases and Redis keys
 * for inspection), BENCH_QUIET_CORES / BENCH_QUIET_WAIT / BENCH_RETRIES (how other load on a shared machine is handled:
 * threshold in cores, seconds to wait for quiet at start, number of disturbed cells re-run). Results: stdout and bench/results/latest.json. Targets are reported,
 * never asserted; the exit code is non-zero only when the bench itself could not run (e.g. a server failed to start).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyMigrations } from '../src/store/migrate';
import { hashSecret } from '../src/services/api-key-service';
import { runLongPollBench, type LongPollResult } from './long-poll-bench';
import {
  adminQuery,
  ChildServer,
  createDatabase,
  databaseUrl,
  deleteRedisPrefix,
  dropDatabase,
  freePort,
  killAllChildrenSync,
  machineInfo,
  REDIS_URL,
  ROOT,
  runLoad,
  sleep,
  snapshotCpu,
  foreignLoad,
  cpuBreakdown,
  stopAllChildren,
  waitForQuiet,
  type ForeignLoad,
  type LoadOptions,
  type LoadResult,
  type MachineInfo,
} from './bench-support';

// ---------------------------------------------------------------------------------------------------------------
// Settings

const envInt = (name: string, def: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : def;
};
const DURATION = envInt('BENCH_DURATION', 8);
const WARMUP = envInt('BENCH_WARMUP', 3);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,10,50').split(',').map(Number).filter((n) => n > 0);
const SCENARIOS = new Set((process.env.BENCH_SCENARIOS ?? 'pending,auto,decision,longpoll,slack').split(',').map((s) => s.trim()));
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';
const KEEP = process.env.BENCH_KEEP_DATA === '1';
const APPROVERS = 20;
/** Foreign CPU (other processes on the machine) above which a cell counts as disturbed, in cores. */
const QUIET_CORES = Number(process.env.BENCH_QUIET_CORES ?? 0.25);
/** How long to wait for the machine to be quiet before starting (s), and how many disturbed cells may be re-run. */
const QUIET_WAIT = envInt('BENCH_QUIET_WAIT', 20);
let retriesLeft = Number(process.env.BENCH_RETRIES ?? 1);
const MIGRATIONS_DIR = path.join(ROOT, 'prisma', 'migrations');
const RESULTS_FILE = path.join(__dirname, 'results', 'latest.json');

const TARGETS = {
  intakeRps50: 3000,
  intakeP99Ms50: 25,
  /** Countersign intake (pending and routine) ÷ the minimal durable write, at 50 connections. */
  intakeRatio50: 0.85,
  autoP50Ms1: 1,
  slackP99Ms50: 50,
  /** The sealer keeps up: no committed event waits longer than this to be sealed, at any intake rate reached. */
  sealLagMs: 2 * 1000,
};
/** The sealer's interval in the bench: the default. */
const SEAL_INTERVAL_MS = 1000;
/** The role Countersign and its sealer connect as (created and granted by applyMigrations). */
const RUNTIME_ROLE = 'cs_bench_app';

const runId = randomBytes(4).toString('hex');
const CS_DB = `cs_bench_${runId}`;
const BASE_DB = `cs_bench_${runId}_base`;
const MIN_DB = `cs_bench_${runId}_min`;
const CS_PREFIX = `csbench_${runId}`;
const BASE_PREFIX = `csbase_${runId}`;
const MIN_PREFIX = `csmin_${runId}`;
const OUR_DBS = [CS_DB, BASE_DB, MIN_DB];
const AGENT_SECRET = `agent_${randomBytes(16).toString('hex')}`;
const APPROVER_SECRET = `approver_${randomBytes(16).toString('hex')}`;
const AUDITOR_SECRET = `auditor_${randomBytes(16).toString('hex')}`;
const AGENT_OWNER = 'agent-owner@example.com';

const POLICY_YAML = `# Generated by bench/run-bench.ts
version: 1
groups:
  data-owners:
${Array.from({ length: APPROVERS }, (_, i) => `    - approver-${i + 1}@example.com`).join('\n')}
rules:
  - name: routine-dev-reads
    match:
      action: "*.read"
      environment: dev
    outcome: approve
  - name: dataset-export
    match:
      action: dataset.export
    outcome: require
    approvers: [data-owners]
    approvals: 1
    channels: ["slack:C0BENCH"]
    ttlSeconds: 3600
    reason: on-deny
default:
  outcome: deny
  message: Not allowed in the bench policy.
`;

const PENDING_BODY = JSON.stringify({
  action: 'dataset.export',
  resource: 'warehouse/customers/2025-q3',
  requester: { id: 'agent-bench', type: 'agent', name: 'Bench Agent', model: 'bench-model-1' },
  justification: 'Quarterly revenue report requested by finance (ticket FIN-1234).',
  context: { ticket: 'FIN-1234', rows: 125000, format: 'parquet', dryRun: false },
  risk: 'high',
  environment: 'production',
});
const AUTO_BODY = JSON.stringify({
  action: 'dataset.read',
  resource: 'warehouse/customers/2025-q3',
  requester: { id: 'agent-bench', type: 'agent', name: 'Bench Agent', model: 'bench-model-1' },
  justification: 'Sampling rows for a schema check.',
  context: { ticket: 'FIN-1234', rows: 100 },
  risk: 'low',
  environment: 'dev',
});

// ---------------------------------------------------------------------------------------------------------------
// Cleanup

let tmpDir: string | undefined;
const createdDbs: string[] = [];
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await stopAllChildren();
    if (KEEP) {
      console.log(`\nBENCH_KEEP_DATA=1: kept databases ${createdDbs.join(', ')} and Redis prefixes ${CS_PREFIX}, ${BASE_PREFIX}, ${MIN_PREFIX}`);
    } else {
      for (const db of createdDbs) await dropDatabase(db).catch((err) => console.error(`could not drop database ${db}: ${(err as Error).message}`));
      for (const p of [CS_PREFIX, BASE_PREFIX, MIN_PREFIX]) await deleteRedisPrefix(p).catch((err) => console.error(`could not delete Redis keys ${p}:*: ${(err as Error).message}`));
    }
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  })();
  return cleaning;
}

process.on('exit', killAllChildrenSync);
// `process.on`, not `once`: Ctrl-C reaches us twice (from the terminal's process group and relayed by the tsx/npm
// wrappers), and a second, unhandled SIGINT would kill the process half-way through the cleanup.
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${sig}: stopping servers and cleaning up…`);
    void cleanup().finally(() => process.exit(130));
  });
}

class StartError extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Servers

interface Target {
  key: 'countersign' | 'baseline' | 'minimal';
  label: string;
  base: string;
  dbUrl: string;
  server: ChildServer;
  /** Pending request ids not voted on yet, for the decision scenario. */
  pool: { ids: string[]; next: number };
}

async function prepareDatabase(name: string, runtimeRole?: string): Promise<string> {
  await createDatabase(name);
  createdDbs.push(name);
  const url = databaseUrl(name);
  await applyMigrations({ databaseUrl: url, migrationsDir: MIGRATIONS_DIR, runtimeRole: runtimeRole ? { name: runtimeRole } : undefined });
  if (!runtimeRole) return url;
  const u = new URL(url);
  u.username = runtimeRole;
  u.password = '';
  return u.toString();
}

/** Where Countersign and its sealer keep the signing key and the published checkpoints (shared: same key). */
const dataDir = () => path.join(tmpDir!, 'data');
const CHECKPOINT_ORIGIN = 'bench.invalid/audit';

function countersignEnv(port: number, dbUrl: string, policyFile: string, extra: Record<string, string> = {}): Record<string, string> {
  const experiment = Object.fromEntries(
    (process.env.BENCH_EXTRA_ENV ?? '').split(';').map((kv) => kv.trim()).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    REDIS_URL,
    REDIS_PREFIX: CS_PREFIX,
    POLICY_FILE: policyFile,
    API_KEYS: `bench-agent:${AGENT_SECRET}:submit+read:${AGENT_OWNER},bench-approver:${APPROVER_SECRET}:attest+read:bench-portal@example.com,bench-auditor:${AUDITOR_SECRET}:audit`,
    // The limits stay on (their checks are part of the measured path) but high enough never to refuse the load.
    INTAKE_RATE_LIMIT_PER_MINUTE: '1000000',
    MAX_PENDING_PER_KEY: '1000000',
    LONG_POLLS_PER_KEY: '100000',
    LOG_LEVEL,
    RUN_MODE: 'api',
    DATA_DIR: dataDir(),
    CHECKPOINT_ORIGIN,
    ...extra,
    ...experiment,
  };
}

async function startCountersign(name: string, port: number, dbUrl: string, policyFile: string, extra: Record<string, string> = {}): Promise<ChildServer> {
  // cwd is a scratch directory so that a developer's .env in the repository cannot change the configuration.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // BENCH_COUNTERSIGN_ENTRY: run another entry point (e.g. a patched copy of src/ for an experiment); default src/main.ts.
  const entry = process.env.BENCH_COUNTERSIGN_ENTRY ?? path.join(ROOT, 'src', 'main.ts');
  const server = new ChildServer(name, entry, countersignEnv(port, dbUrl, policyFile, extra), { cwd: tmpDir, nodeArgs });
  await server.waitReady(`http://127.0.0.1:${port}/readyz`, 60_000).catch((err) => {
    throw new StartError((err as Error).message);
  });
  return server;
}

async function startBaseline(port: number, dbUrl: string, kind: 'baseline' | 'minimal' = 'baseline'): Promise<ChildServer> {
  const apiKeyId = randomUUID();
  await adminQuery(
    `INSERT INTO api_key (id, name, secret_hash, scopes, owner, source) VALUES ($1::uuid, 'bench-agent', $2, ARRAY['submit','read'], $3, 'env')`,
    [apiKeyId, hashSecret(AGENT_SECRET), AGENT_OWNER],
    dbUrl,
  );
  const script = kind === 'baseline' ? 'bare-baseline-server.ts' : 'minimal-write-server.ts';
  const server = new ChildServer(kind === 'baseline' ? 'bare baseline' : 'minimal durable write', path.join(__dirname, script), {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: dbUrl,
    REDIS_URL,
    REDIS_PREFIX: kind === 'baseline' ? BASE_PREFIX : MIN_PREFIX,
    API_KEY_ID: apiKeyId,
    API_KEY_NAME: 'bench-agent',
    API_KEY_OWNER: AGENT_OWNER,
    APPROVER_COUNT: String(APPROVERS),
    DATABASE_POOL_SIZE: '20',
  }, { cwd: tmpDir });
  await server.waitReady(`http://127.0.0.1:${port}/readyz`, 60_000).catch((err) => {
    throw new StartError((err as Error).message);
  });
  return server;
}

/** Countersign's sealer in its own process, on Countersign's database, with Countersign's key (bench/sealer-process.ts). */
async function startSealer(dbUrl: string): Promise<ChildServer> {
  const sealer = new ChildServer('sealer', path.join(__dirname, 'sealer-process.ts'), {
    DATABASE_URL: dbUrl,
    DATA_DIR: dataDir(),
    AUDIT_SEAL_INTERVAL_MS: String(SEAL_INTERVAL_MS),
    CHECKPOINT_ORIGIN,
    LOG_LEVEL,
  }, { cwd: tmpDir });
  await sealer.waitForLine(/sealer running/, 60_000).catch((err) => {
    throw new StartError((err as Error).message);
  });
  return sealer;
}

// ---------------------------------------------------------------------------------------------------------------
// Seal lag: how long committed audit events wait for the sealer

/** Events the log does not hold yet (since the latest checkpoint's horizon), and how old the oldest is. */
const UNSEALED_SQL = `SELECT count(*)::int AS n, coalesce(extract(epoch FROM clock_timestamp() - min(e.at)) * 1000, 0)::float8 AS oldest_ms
  FROM audit_event e
  WHERE e.txid >= coalesce((SELECT c.horizon FROM audit_checkpoint c ORDER BY c.tree_size DESC LIMIT 1), 0)
    AND NOT EXISTS (SELECT 1 FROM audit_leaf l WHERE l.seq = e.seq)`;

interface SealLag {
  /** Largest age of the oldest unsealed event seen during the cell (sampled every 500 ms). */
  maxLagMs: number;
  /** Unsealed events when the cell ended, and how long until all of them were sealed. */
  backlogAtEnd: number;
  caughtUpMs: number;
  samples: number;
}

/** Samples the seal lag while `run` goes, then waits (up to 30 s) until the backlog is sealed. */
async function withSealLag<T>(client: pg.Client, run: () => Promise<T>): Promise<{ result: T; lag: SealLag }> {
  let maxLagMs = 0;
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sleep(500);
      if (!sampling) break;
      const { rows } = await client.query(UNSEALED_SQL);
      samples++;
      if (rows[0].n > 0) maxLagMs = Math.max(maxLagMs, rows[0].oldest_ms);
    }
  })();
  const result = await run();
  sampling = false;
  await sampler;
  const ended = Date.now();
  const { rows } = await client.query(UNSEALED_SQL);
  const backlogAtEnd = rows[0].n as number;
  maxLagMs = Math.max(maxLagMs, backlogAtEnd > 0 ? rows[0].oldest_ms : 0);
  let left = backlogAtEnd;
  while (left > 0 && Date.now() - ended < 30_000) {
    await sleep(50);
    left = (await client.query(UNSEALED_SQL)).rows[0].n;
  }
  return { result, lag: { maxLagMs: Math.round(maxLagMs), backlogAtEnd, caughtUpMs: left > 0 ? NaN : Date.now() - ended, samples } };
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios

type ScenarioKey = 'pending' | 'auto' | 'decision';
const SCENARIO_LABEL: Record<ScenarioKey | 'slack', string> = {
  pending: 'Intake, pending (POST /v1/requests → approvers)',
  auto: 'Intake, routine auto-approve',
  decision: 'Decision (POST /v1/requests/:id/decisions)',
  slack: 'Slack button callback (POST /slack/events)',
};

interface Cell extends LoadResult {
  scenario: ScenarioKey;
  server: Target['key'];
  /** Countersign intake cells: how far behind the commits the sealer fell. */
  sealLag?: SealLag;
  /** CPU used by processes outside the bench during the cell, in cores. */
  foreignCores: number;
  disturbed: boolean;
  /** CPU milliseconds per 2xx response, by component (shared-machine-proof view of where the time goes). */
  cpuMsPerRequest: { server: number; postgres: number; redis: number; loadGenerator: number; total: number; sealer?: number };
  note?: string;
}

const cells: Cell[] = [];

const submitHeaders = { 'content-type': 'application/json', authorization: `Bearer ${AGENT_SECRET}` };
const decideHeaders = { 'content-type': 'application/json', authorization: `Bearer ${APPROVER_SECRET}` };

function intakeLoad(t: Target, body: string): Omit<LoadOptions, 'connections' | 'duration'> {
  return { url: `${t.base}/v1/requests`, method: 'POST', headers: submitHeaders, body };
}

function decisionLoad(t: Target, onExhausted: () => void): Omit<LoadOptions, 'connections' | 'duration'> {
  let instance: { stop(): void } | undefined;
  return {
    url: `${t.base}/v1/requests`,
    method: 'POST',
    headers: decideHeaders,
    onInstance: (i) => (instance = i),
    setupRequest: (req) => {
      const i = t.pool.next++;
      let id = t.pool.ids[i];
      if (!id) {
        // Out of fresh requests: stop, and let the few requests still built re-vote (refused, counted as non-2xx).
        id = t.pool.ids[t.pool.ids.length - 1];
        onExhausted();
        instance?.stop();
      }
      const n = (i % APPROVERS) + 1;
      req.path = `/v1/requests/${id}/decisions`;
      req.body = JSON.stringify({ approver: { email: `approver-${n}@example.com`, name: `Approver ${n}` }, decision: 'approve' });
      return req;
    },
  };
}

function fmt(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return '–';
  return n.toFixed(digits);
}
function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
}

function logCell(c: Cell): void {
  const bad = c.non2xx || c.errors || c.timeouts ? `  non-2xx ${c.non2xx} ${JSON.stringify(c.statusCodes)} errors ${c.errors} timeouts ${c.timeouts}` : '';
  const sealerCpu = c.cpuMsPerRequest.sealer === undefined ? '' : ` + ${fmt(c.cpuMsPerRequest.sealer)} sealer`;
  const cpu = `  cpu/req ${fmt(c.cpuMsPerRequest.server)} node + ${fmt(c.cpuMsPerRequest.postgres)} pg + ${fmt(c.cpuMsPerRequest.redis)} redis${sealerCpu} + ${fmt(c.cpuMsPerRequest.loadGenerator)} load ms`;
  const busy = c.foreignCores >= 0.05 ? `  [other processes: ${fmt(c.foreignCores)} cores${c.disturbed ? ' — DISTURBED' : ''}]` : '';
  console.log(
    `  ${c.server.padEnd(11)} ${String(c.connections).padStart(2)} conn  ${fmtInt(c.rps).padStart(7)} req/s  p50 ${fmt(c.latencyMs.p50).padStart(6)} ms  p99 ${fmt(c.latencyMs.p99).padStart(7)} ms  (${fmtInt(c.ok)} ok in ${c.durationSec}s)${cpu}${bad}${busy}${c.note ? `  ${c.note}` : ''}`,
  );
}

function describeBusy(l: ForeignLoad): string {
  return `${fmt(l.cores)} cores used by other processes (${l.top.map((t) => `${t.cmd.slice(0, 60)} ${fmt(t.cores)}`).join('; ')})`;
}

/** Countersign's database as its runtime role. */
let csRuntimeUrl: string | undefined;
/** The sealer beside Countersign, and the connection the seal lag is sampled on. */
let sealer: ChildServer | undefined;
let lagClient: pg.Client | undefined;
const DB_OF: Record<Target['key'], string> = { countersign: CS_DB, baseline: BASE_DB, minimal: MIN_DB };

/** One measured cell, with the CPU other processes used meanwhile (and, for Countersign's intake, the seal lag). */
async function measureCell(scenario: ScenarioKey, t: Target, opts: LoadOptions): Promise<Cell> {
  const before = snapshotCpu();
  let after = before;
  const run = async () => {
    const res = await runLoad(opts);
    after = snapshotCpu();
    return res;
  };
  let r: LoadResult;
  let sealLag: SealLag | undefined;
  if (t.key === 'countersign' && scenario !== 'decision' && sealer && lagClient) ({ result: r, lag: sealLag } = await withSealLag(lagClient, run));
  else r = await run();
  const foreign = foreignLoad(before, after, OUR_DBS);
  const cpu = cpuBreakdown(before, after, t.server.proc.pid, DB_OF[t.key]);
  const per = (s: number) => (r.ok ? Math.round((s * 1000 * 1000) / r.ok) / 1000 : NaN);
  // The sealer's own process (its database work is in Countersign's PostgreSQL column already).
  const sealerCpu = t.key === 'countersign' && sealer ? cpuBreakdown(before, after, sealer.proc.pid, '-').server : 0;
  const cpuMsPerRequest = {
    server: per(cpu.server), postgres: per(cpu.postgres), redis: per(cpu.redis), loadGenerator: per(cpu.loadGenerator),
    total: per(cpu.server + cpu.postgres + cpu.redis + cpu.loadGenerator + sealerCpu),
    ...(t.key === 'countersign' && sealer ? { sealer: per(sealerCpu) } : {}),
  };
  const cell: Cell = { ...r, scenario, server: t.key, foreignCores: Math.round(foreign.cores * 100) / 100, disturbed: foreign.cores >= QUIET_CORES, cpuMsPerRequest, sealLag };
  if (cell.disturbed) cell.note = `other load: ${describeBusy(foreign)}`;
  return cell;
}

async function measure(scenario: ScenarioKey, targets: Target[], load: (t: Target) => Omit<LoadOptions, 'connections' | 'duration'>, before?: (t: Target, conns: number) => Promise<void>): Promise<void> {
  console.log(`\n▶ ${SCENARIO_LABEL[scenario]}`);
  for (const t of targets) {
    await before?.(t, 10);
    const w = await runLoad({ ...load(t), connections: 10, duration: WARMUP });
    console.log(`  ${t.key.padEnd(11)} warm-up ${WARMUP}s: ${fmtInt(w.rps)} req/s${w.non2xx ? `, non-2xx ${w.non2xx} ${JSON.stringify(w.statusCodes)}` : ''}`);
  }
  for (const conns of CONNECTIONS) {
    for (const t of targets) {
      await before?.(t, conns);
      await sleep(300);
      let cell = await measureCell(scenario, t, { ...load(t), connections: conns, duration: DURATION });
      if (cell.disturbed && retriesLeft > 0) {
        retriesLeft--;
        logCell(cell);
        console.log(`  ${t.key.padEnd(11)} re-running this cell once the machine is quiet (waiting up to 10 s)…`);
        await waitForQuiet(OUR_DBS, QUIET_CORES, 10_000);
        await before?.(t, conns);
        const again = await measureCell(scenario, t, { ...load(t), connections: conns, duration: DURATION });
        if (again.foreignCores <= cell.foreignCores) cell = again;
        else {
          logCell(again);
          console.log(`  ${t.key.padEnd(11)} (the re-run was busier; keeping the first measurement)`);
        }
      }
      if (scenario === 'decision' && t.pool.next > t.pool.ids.length) cell.note = `${cell.note ? cell.note + '; ' : ''}stopped early: ran out of pending requests`;
      cells.push(cell);
      logCell(cell);
      if (cell.sealLag) console.log(`  ${''.padEnd(11)} ${describeLag(cell.sealLag)}`);
    }
  }
}

function describeLag(l: SealLag): string {
  return `seal lag: oldest unsealed event at most ${fmt(l.maxLagMs / 1000)} s old during the cell; ${fmtInt(l.backlogAtEnd)} unsealed when it ended, ` +
    (Number.isFinite(l.caughtUpMs) ? `all sealed ${fmt(l.caughtUpMs / 1000)} s later` : 'NOT all sealed 30 s later');
}

async function loadPool(t: Target): Promise<void> {
  const rows = await adminQuery<{ id: string }>(
    `SELECT id FROM approval_request WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM vote v WHERE v.request_id = approval_request.id) ORDER BY created_at`,
    [],
    t.dbUrl,
  );
  t.pool = { ids: rows.map((r) => r.id), next: 0 };
}

/** Makes sure the pool holds enough pending requests for the next decision cell (votes are slower than intakes). */
async function topUpPool(t: Target, conns: number): Promise<void> {
  const intakeRate = cells.find((c) => c.scenario === 'pending' && c.server === t.key && c.connections === conns)?.rps
    ?? Math.max(0, ...cells.filter((c) => c.scenario === 'pending' && c.server === t.key).map((c) => c.rps), 2000);
  const need = Math.ceil(intakeRate * 1.2 * Math.max(DURATION, WARMUP)) + 500;
  const left = t.pool.ids.length - t.pool.next;
  if (left >= need) return;
  const amount = need - left;
  process.stdout.write(`  ${t.key.padEnd(11)} topping up ${fmtInt(amount)} pending requests for the decision pool… `);
  const r = await runLoad({ ...intakeLoad(t, PENDING_BODY), connections: 50, duration: 120, amount });
  console.log(`${fmtInt(r.ok)} created`);
  const used = new Set(t.pool.ids.slice(0, t.pool.next));
  await loadPool(t);
  t.pool.ids = t.pool.ids.filter((id) => !used.has(id));
}

// ---------------------------------------------------------------------------------------------------------------
// Slack (optional: bench/slack-callback-bench.ts belongs to the Slack work)

interface SlackSection {
  status: 'measured' | 'skipped' | 'failed';
  message?: string;
  /** Votes the Slack clicks recorded (the HTTP answer is only the ack; votes are processed after it). */
  votesRecorded?: number;
  votesSettledAfterMs?: number;
  serverWarnings?: number;
  serverWarningKinds?: Record<string, number>;
  connections?: number;
  rps?: number;
  p50?: number;
  p99?: number;
  non2xx?: number;
  raw?: unknown;
}

function normalizeSlackResult(res: unknown): Pick<SlackSection, 'rps' | 'p50' | 'p99' | 'non2xx' | 'connections'> {
  const r = (res ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const num = (...vals: unknown[]) => vals.map(Number).find((v) => Number.isFinite(v));
  return {
    rps: num(r.rps, r.requestsPerSec, r.reqPerSec, r.requests?.average, r.rps2xx),
    p50: num(r.p50, r.p50Ms, r.latencyMs?.p50, r.latency?.p50),
    p99: num(r.p99, r.p99Ms, r.latencyMs?.p99, r.latency?.p99),
    non2xx: num(r.non2xx, r.errors),
    connections: num(r.connections),
  };
}

async function runSlackSection(policyFile: string): Promise<SlackSection> {
  const file = path.join(__dirname, 'slack-callback-bench.ts');
  if (!existsSync(file)) {
    return { status: 'skipped', message: 'bench/slack-callback-bench.ts is not there yet: Slack callback path not measured.' };
  }
  let mod: { runSlackCallbackBench?: (opts: Record<string, unknown>) => Promise<unknown> };
  try {
    const spec: string = file;
    mod = await import(spec);
  } catch (err) {
    return { status: 'failed', message: `could not load bench/slack-callback-bench.ts: ${(err as Error).message}` };
  }
  const run = mod.runSlackCallbackBench ?? (mod as { default?: typeof mod }).default?.runSlackCallbackBench;
  if (typeof run !== 'function') return { status: 'skipped', message: 'bench/slack-callback-bench.ts does not export runSlackCallbackBench yet.' };

  console.log(`\n▶ ${SCENARIO_LABEL.slack}`);
  await waitForQuiet(OUR_DBS, QUIET_CORES, 20_000);
  const fake = new ChildServer('fake Slack API', path.join(__dirname, 'fake-slack-api.ts'), { PORT: '0', APPROVER_COUNT: String(APPROVERS) }, { cwd: tmpDir });
  const port = Number((await fake.waitForLine(/listening (\d+)/, 30_000).catch((err) => { throw new StartError((err as Error).message); }))[1]);
  const signingSecret = randomBytes(16).toString('hex');
  const csPort = await freePort();
  const cs = await startCountersign('countersign (Slack)', csPort, csRuntimeUrl!, policyFile, {
    SLACK_BOT_TOKEN: 'xoxb-bench',
    SLACK_SIGNING_SECRET: signingSecret,
    // The clicks come from the test workspace (test/fakes/slack-requests.ts); events from any other are refused.
    SLACK_TEAM_ID: 'T0000TEST',
    SLACK_BOT_USER_ID: 'UBENCH',
    SLACK_BOT_ID: 'BBENCH',
    SLACK_API_URL: `http://127.0.0.1:${port}/api/`,
  });
  const baseUrl = `http://127.0.0.1:${csPort}`;
  const probe = await fetch(`${baseUrl}/slack/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'payload=%7B%7D' });
  if (probe.status === 404) {
    await cs.stop();
    await fake.stop();
    return { status: 'skipped', message: 'POST /slack/events answers 404 with Slack configured: the Slack module is not mounted yet (src/platforms.ts registers no slack platform). Slack callback path not measured.' };
  }
  // The probe above is unsigned and logs one refusal: count only the warnings logged from here on.
  const warningsBefore = cs.warnings;
  const kindsBefore = new Map(cs.warningKinds);
  // Pending requests nobody voted on yet (left over from the intake cells; same policy rule, channel slack:C0BENCH),
  // topped up through the Slack-enabled instance if there are too few for one click each.
  const pendingIds = async () =>
    (await adminQuery<{ id: string }>(
      `SELECT id FROM approval_request r WHERE status = 'pending' AND NOT EXISTS (SELECT 1 FROM vote v WHERE v.request_id = r.id) ORDER BY created_at DESC LIMIT 100000`,
      [],
      databaseUrl(CS_DB),
    )).map((r) => r.id);
  let ids = await pendingIds();
  const want = Math.ceil(DURATION * 3_000);
  if (ids.length < want) {
    await runLoad({ url: `${baseUrl}/v1/requests`, method: 'POST', headers: submitHeaders, body: PENDING_BODY, connections: 50, duration: 60, amount: want - ids.length });
    ids = await pendingIds();
  }
  try {
    // One clicking user (an eligible approver via the fake users.info), each click on a fresh pending request: every
    // click is a vote that decides its request. Ephemeral replies go to the fake Slack, not to the server under test.
    const before = snapshotCpu();
    const res = await run({
      baseUrl, signingSecret, requestIds: ids, durationSeconds: DURATION, connections: 50,
      userIds: ['U0BENCH01'], responseUrl: `http://127.0.0.1:${port}/response`,
    });
    const foreign = foreignLoad(before, snapshotCpu(), OUR_DBS);
    if (foreign.cores >= QUIET_CORES) console.log(`  note: ${describeBusy(foreign)} during the Slack cell`);
    // The ack is not the work: wait (up to 15 s) until the votes the clicks cause stop growing, and count them.
    const ended = Date.now();
    const countVotes = async () => (await adminQuery<{ n: number }>(`SELECT count(*)::int AS n FROM vote WHERE channel = 'slack'`, [], databaseUrl(CS_DB)))[0].n;
    let votes = await countVotes();
    let settledAt = Date.now();
    let settled = false;
    while (Date.now() - ended < 15_000) {
      await sleep(1_000);
      const now = await countVotes();
      if (now === votes) {
        settled = true;
        break;
      }
      votes = now;
      settledAt = Date.now();
    }
    const n = normalizeSlackResult(res);
    const total = Number((res as { total?: number })?.total);
    const messages: string[] = [];
    if (n.non2xx) messages.push(`${n.non2xx} callbacks were not answered 2xx: the figures do not describe a working path.`);
    messages.push(
      `${fmtInt(votes)} votes recorded via Slack for ${Number.isFinite(total) ? fmtInt(total) : '?'} acknowledged clicks ` +
        (settled ? `(the last one ${fmt((settledAt - ended) / 1000, 1)} s after the load ended).` : `(still growing ${fmt((Date.now() - ended) / 1000, 0)} s after the load ended).`),
    );
    const kinds = [...cs.warningKinds].map(([k, v]) => [k, v - (kindsBefore.get(k) ?? 0)] as const).filter(([, v]) => v > 0);
    if (cs.warnings > warningsBefore) messages.push(`The server logged ${fmtInt(cs.warnings - warningsBefore)} warnings: ${kinds.sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, v]) => `${fmtInt(v)}× "${k}"`).join(', ')}.`);
    console.log(`  slack       ${messages.join(' ')}`);
    return {
      status: 'measured', message: messages.join(' '), connections: n.connections ?? 50, rps: n.rps, p50: n.p50, p99: n.p99, non2xx: n.non2xx,
      votesRecorded: votes, votesSettledAfterMs: settled ? settledAt - ended : undefined, serverWarnings: cs.warnings - warningsBefore, serverWarningKinds: Object.fromEntries(kinds), raw: res,
    };
  } catch (err) {
    return { status: 'failed', message: `runSlackCallbackBench threw: ${(err as Error).message}` };
  } finally {
    await cs.stop();
    await fake.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | null;
}

function cell(s: ScenarioKey, server: Target['key'], conns: number): Cell | undefined {
  return cells.find((c) => c.scenario === s && c.server === server && c.connections === conns);
}

function targetChecks(slack: SlackSection): TargetCheck[] {
  const out: TargetCheck[] = [];
  const p50c = cell('pending', 'countersign', 50);
  const a1 = cell('auto', 'countersign', 1);
  if (p50c) {
    out.push({ target: `Intake (pending) ≥ ${fmtInt(TARGETS.intakeRps50)} req/s at 50 connections`, measured: `${fmtInt(p50c.rps)} req/s`, met: p50c.rps >= TARGETS.intakeRps50 && p50c.non2xx === 0 });
    out.push({ target: `Intake (pending) p99 < ${TARGETS.intakeP99Ms50} ms at 50 connections`, measured: `${fmt(p50c.latencyMs.p99)} ms`, met: p50c.latencyMs.p99 < TARGETS.intakeP99Ms50 });
  }
  for (const s of ['pending', 'auto'] as const) {
    const c = cell(s, 'countersign', 50);
    const m = cell(s, 'minimal', 50);
    if (c && m) {
      const ratio = c.rps / m.rps;
      out.push({ target: `Intake (${s === 'auto' ? 'routine' : s}) ≥ ${TARGETS.intakeRatio50}× the minimal durable write at 50 connections`, measured: `${fmt(ratio)}× (${fmtInt(c.rps)} / ${fmtInt(m.rps)})`, met: ratio >= TARGETS.intakeRatio50 && c.non2xx === 0 });
    }
  }
  if (a1) out.push({ target: `Auto-approved routine request p50 < ${TARGETS.autoP50Ms1} ms at 1 connection`, measured: `${fmt(a1.latencyMs.p50)} ms`, met: a1.latencyMs.p50 < TARGETS.autoP50Ms1 });
  const lagged = cells.filter((c) => c.sealLag);
  if (lagged.length) {
    const fastest = lagged.reduce((a, b) => (b.rps > a.rps ? b : a));
    const worst = Math.max(...lagged.map((c) => Math.max(c.sealLag!.maxLagMs, c.sealLag!.caughtUpMs)));
    out.push({
      target: `The sealer keeps up: no event waits > ${fmt(TARGETS.sealLagMs / 1000, 0)} s to be sealed, in any intake cell (up to ${fmtInt(fastest.rps)} req/s, ${SCENARIO_LABEL[fastest.scenario].split(' (')[0].toLowerCase()} at ${fastest.connections} conns)`,
      measured: Number.isFinite(worst) ? `at most ${fmt(worst / 1000)} s` : 'a backlog was not sealed within 30 s',
      met: Number.isFinite(worst) && worst <= TARGETS.sealLagMs,
    });
  }
  if (slack.status === 'measured') {
    out.push({
      target: `Slack button callback p99 < ${TARGETS.slackP99Ms50} ms at 50 connections`,
      measured: slack.p99 === undefined ? 'not reported' : `${fmt(slack.p99)} ms${slack.non2xx ? ` (${slack.non2xx} non-2xx)` : ''}`,
      met: slack.p99 === undefined ? null : slack.p99 < TARGETS.slackP99Ms50 && !slack.non2xx,
    });
  } else {
    out.push({ target: `Slack button callback p99 < ${TARGETS.slackP99Ms50} ms at 50 connections`, measured: slack.status, met: null });
  }
  return out;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function printConsoleTable(): void {
  const rows: string[][] = [['Scenario', 'Conns', 'CS req/s', 'CS p50', 'CS p99', 'Bare req/s', 'Bare p99', 'Min req/s', 'Min p99', 'CS÷bare', 'CS÷min', 'non-2xx CS/bare/min']];
  for (const s of ['pending', 'auto', 'decision'] as ScenarioKey[]) {
    for (const conns of CONNECTIONS) {
      const c = cell(s, 'countersign', conns);
      const b = cell(s, 'baseline', conns);
      const m = cell(s, 'minimal', conns);
      if (!c && !b) continue;
      rows.push([
        s, String(conns),
        c ? fmtInt(c.rps) : '–', c ? fmt(c.latencyMs.p50) : '–', c ? fmt(c.latencyMs.p99) : '–',
        b ? fmtInt(b.rps) : '–', b ? fmt(b.latencyMs.p99) : '–',
        m ? fmtInt(m.rps) : '–', m ? fmt(m.latencyMs.p99) : '–',
        c && b ? `${fmt(c.rps / b.rps)}×` : '–',
        c && m ? `${fmt(c.rps / m.rps)}×` : '–',
        `${c?.non2xx ?? '–'}/${b?.non2xx ?? '–'}/${m?.non2xx ?? '–'}`,
      ]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = widths.map((w) => '─'.repeat(w)).join('─┼─');
  console.log('\n' + rows.map((r, ri) => r.map((v, i) => pad(v, widths[i], i > 1)).join(' │ ') + (ri === 0 ? `\n${line}` : '')).join('\n'));
  console.log('(latencies in ms; req/s counts 2xx responses only; ratios = Countersign req/s ÷ bare baseline / minimal durable write req/s)');
}

function markdown(machine: MachineInfo, checks: TargetCheck[], slack: SlackSection, startedAt: Date): string {
  const md: string[] = [];
  md.push(`### Benchmark results (${startedAt.toISOString().slice(0, 10)}, \`npm run bench\`)`);
  md.push('');
  md.push(
    `Machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memoryGiB} GiB RAM, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}. ` +
      `Countersign runs with \`RUN_MODE=api\` (the HTTP node; workers scale separately) and \`LOG_LEVEL=${LOG_LEVEL}\`, as the runtime role, with its sealer in a ` +
      `process of its own (\`AUDIT_SEAL_INTERVAL_MS=${SEAL_INTERVAL_MS}\`) sealing as it goes; the load generator (autocannon) runs in a separate process on the same machine, as do ` +
      `PostgreSQL and Redis. ${DURATION} s per cell after a ${WARMUP} s warm-up at 10 connections. ` +
      'Bare baseline: a bare Fastify route running the same statements as Countersign\'s hot paths with `pg` (request row + audit events in one statement) and the same BullMQ adds, ' +
      'without auth, validation or policy. Minimal durable write: one plain INSERT of the same request row and audit rows, and the same BullMQ adds.',
  );
  md.push('');
  md.push('| Scenario | Conns | Countersign req/s | p50 ms | p99 ms | Bare baseline req/s | p50 ms | p99 ms | Minimal write req/s | p50 ms | p99 ms | ÷ bare | ÷ minimal |');
  md.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  const flag = (x?: Cell) => (x && (x.non2xx || x.errors) ? ` (${x.non2xx + x.errors} failed)` : '') + (x?.disturbed ? ' †' : '');
  const trio = (x?: Cell) => (x ? `${fmtInt(x.rps)}${flag(x)} | ${fmt(x.latencyMs.p50)} | ${fmt(x.latencyMs.p99)}` : '– | – | –');
  for (const s of ['pending', 'auto', 'decision'] as ScenarioKey[]) {
    for (const conns of CONNECTIONS) {
      const c = cell(s, 'countersign', conns);
      const b = cell(s, 'baseline', conns);
      const m = cell(s, 'minimal', conns);
      if (!c && !b) continue;
      md.push(`| ${SCENARIO_LABEL[s]} | ${conns} | ${trio(c)} | ${trio(b)} | ${trio(m)} | ${c && b ? fmt(c.rps / b.rps) + '×' : '–'} | ${c && m ? fmt(c.rps / m.rps) + '×' : '–'} |`);
    }
  }
  if (slack.status === 'measured') {
    md.push(`| ${SCENARIO_LABEL.slack} | ${slack.connections ?? 50} | ${slack.rps === undefined ? '–' : fmtInt(slack.rps)}${slack.non2xx ? ` (${slack.non2xx} failed)` : ''} | ${slack.p50 === undefined ? '–' : fmt(slack.p50)} | ${slack.p99 === undefined ? '–' : fmt(slack.p99)} | – | – | – | – | – | – | – | – |`);
  }
  if (cells.some((c) => c.disturbed)) md.push('', `† other processes on the machine (or the hypervisor) used ≥ ${QUIET_CORES} cores during this cell: the figure is pessimistic.`);
  const lagged = cells.filter((c) => c.sealLag);
  if (lagged.length) {
    md.push('', `Seal lag after each Countersign intake cell (the age of the oldest event not yet sealed, sampled every 0.5 s; then the backlog when the load stopped and how long the sealer took to clear it):`, '');
    md.push('| Scenario | Conns | Countersign req/s | Max seal lag s | Unsealed at end | Sealed within s |', '|---|--:|--:|--:|--:|--:|');
    for (const c of lagged) md.push(`| ${SCENARIO_LABEL[c.scenario]} | ${c.connections} | ${fmtInt(c.rps)} | ${fmt(c.sealLag!.maxLagMs / 1000)} | ${fmtInt(c.sealLag!.backlogAtEnd)} | ${Number.isFinite(c.sealLag!.caughtUpMs) ? fmt(c.sealLag!.caughtUpMs / 1000) : '> 30'} |`);
  }
  const maxConns = Math.max(...CONNECTIONS);
  const cpuRows = (['pending', 'auto', 'decision'] as ScenarioKey[]).map((s) => [s, cell(s, 'countersign', maxConns), cell(s, 'baseline', maxConns), cell(s, 'minimal', maxConns)] as const).filter(([, c, b]) => c && b);
  if (cpuRows.length) {
    md.push('', `CPU per request at ${maxConns} connections (ms; Node server / PostgreSQL backends / Redis / load generator; Countersign adds its sealer process), which is what bounds throughput on ${machine.nproc} cores:`, '');
    md.push('| Scenario | Countersign (+ sealer) | Bare baseline | Minimal write |', '|---|--:|--:|--:|');
    const f = (x?: Cell) => (x ? `${fmt(x.cpuMsPerRequest.server)} / ${fmt(x.cpuMsPerRequest.postgres)} / ${fmt(x.cpuMsPerRequest.redis)} / ${fmt(x.cpuMsPerRequest.loadGenerator)}${x.cpuMsPerRequest.sealer === undefined ? '' : ` (+ ${fmt(x.cpuMsPerRequest.sealer)})`}` : '–');
    for (const [s, c, b, m] of cpuRows) md.push(`| ${SCENARIO_LABEL[s]} | ${f(c)} | ${f(b)} | ${f(m)} |`);
  }
  md.push('');
  md.push('| Target | Measured | Met |');
  md.push('|---|---|:-:|');
  for (const c of checks) md.push(`| ${c.target} | ${c.measured} | ${c.met === null ? 'n/a' : c.met ? '✅' : '❌'} |`);
  if (slack.message) md.push('', `Slack callback: ${slack.message}`);
  return md.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = new Date();
  const machine = await machineInfo();
  console.log(`Countersign bench ${runId}: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`);
  console.log(`${DURATION}s per cell, ${WARMUP}s warm-up, connections ${CONNECTIONS.join('/')}; Countersign RUN_MODE=api (HTTP node only; workers scale separately) + its sealer every ${SEAL_INTERVAL_MS} ms, LOG_LEVEL=${LOG_LEVEL}`);

  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'cs-bench-'));
  const policyFile = path.join(tmpDir, 'policy.yaml');
  writeFileSync(policyFile, POLICY_YAML);

  const [csUrl, baseUrl, minUrl] = await Promise.all([prepareDatabase(CS_DB, RUNTIME_ROLE), prepareDatabase(BASE_DB), prepareDatabase(MIN_DB)]);
  const [csPort, basePort, minPort] = [await freePort(), await freePort(), await freePort()];
  const [cs, base, min] = await Promise.all([startCountersign('countersign', csPort, csUrl, policyFile), startBaseline(basePort, baseUrl), startBaseline(minPort, minUrl, 'minimal')]);
  csRuntimeUrl = csUrl;
  // BENCH_SEALER=0 leaves the sealer out, to see what sealing as you go costs the intake.
  if (process.env.BENCH_SEALER !== '0') sealer = await startSealer(csUrl);
  lagClient = new pg.Client({ connectionString: csUrl });
  lagClient.on('error', () => undefined);
  await lagClient.connect();
  // The same plan as the sealer's own query (src/store/log-store.ts): walk the txid index, probe audit_leaf.
  await lagClient.query('SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_seqscan = off');
  console.log(`servers ready: countersign on :${csPort} (db ${CS_DB}) with its sealer, bare baseline on :${basePort} (db ${BASE_DB}), minimal durable write on :${minPort} (db ${MIN_DB})`);

  const targets: Target[] = [
    { key: 'countersign', label: 'Countersign', base: `http://127.0.0.1:${csPort}`, dbUrl: csUrl, server: cs, pool: { ids: [], next: 0 } },
    { key: 'baseline', label: 'Bare baseline', base: `http://127.0.0.1:${basePort}`, dbUrl: baseUrl, server: base, pool: { ids: [], next: 0 } },
    { key: 'minimal', label: 'Minimal durable write', base: `http://127.0.0.1:${minPort}`, dbUrl: minUrl, server: min, pool: { ids: [], next: 0 } },
  ];
  const withVotes = targets.filter((t) => t.key !== 'minimal');

  const quiet = await waitForQuiet(OUR_DBS, QUIET_CORES, QUIET_WAIT * 1000, (l) => console.log(`machine busy: ${describeBusy(l)}; waiting up to ${QUIET_WAIT} s for quiet…`));
  if (quiet.last.cores >= QUIET_CORES) console.log(`warning: starting on a busy machine: ${describeBusy(quiet.last)}. Figures will be low; re-run on a quiet machine.`);

  // Sanity: each scenario answers as expected once before it is measured.
  const probe = async (t: Target, body: string, want: string) => {
    const res = await fetch(`${t.base}/v1/requests`, { method: 'POST', headers: submitHeaders, body });
    const json = (await res.json().catch(() => ({}))) as { status?: string };
    if (res.status !== 202 || json.status !== want) throw new StartError(`${t.label}: intake answered ${res.status} ${JSON.stringify(json)} (expected 202 ${want})`);
  };
  for (const t of targets) {
    await probe(t, PENDING_BODY, 'pending');
    await probe(t, AUTO_BODY, 'approved');
  }

  if (SCENARIOS.has('pending')) await measure('pending', targets, (t) => intakeLoad(t, PENDING_BODY));
  if (SCENARIOS.has('auto')) await measure('auto', targets, (t) => intakeLoad(t, AUTO_BODY));
  if (SCENARIOS.has('decision')) {
    for (const t of withVotes) await loadPool(t);
    let exhausted = false;
    await measure('decision', withVotes, (t) => decisionLoad(t, () => (exhausted = true)), topUpPool);
    if (exhausted) console.log('  note: a decision cell ran out of pending requests and stopped early');
  }

  let longPoll: LongPollResult | undefined;
  if (SCENARIOS.has('longpoll')) {
    console.log('\n▶ Long-polls: 2,000 clients waiting on one pending request (?wait=60)');
    longPoll = await runLongPollBench({
      baseUrl: targets[0].base, pid: cs.proc.pid!, dbUrl: csUrl, dbName: CS_DB, submitHeaders, pendingBody: PENDING_BODY,
      decide: { headers: decideHeaders, body: () => JSON.stringify({ approver: { email: 'approver-1@example.com' }, decision: 'approve' }) },
    });
    console.log(
      `  countersign ${fmtInt(longPoll.waiters)} waiters  memory +${fmt(longPoll.rssHoldingMiB - longPoll.rssBeforeMiB, 1)} MiB (${fmt(longPoll.rssBeforeMiB, 0)} → ${fmt(longPoll.rssHoldingMiB, 0)} MiB RSS)` +
        `  database transactions in ${longPoll.windowSeconds} s: ${longPoll.xactsHolding} while holding, ${longPoll.xactsIdle} idle` +
        `  all ${fmtInt(longPoll.answered)} answered ${fmtInt(longPoll.allAnsweredMs)} ms after the decision`,
    );
  }

  // The log the sealer built during the run must verify, through the service itself.
  const verify = (await (await fetch(`http://127.0.0.1:${csPort}/v1/audit/verify`, { headers: { authorization: `Bearer ${AUDITOR_SECRET}` } })).json()) as { ok?: boolean; checked?: number; checkpoints?: number; firstProblem?: unknown };
  console.log(`\naudit log after the run: ${verify.ok ? 'verifies' : 'DOES NOT VERIFY'} (${fmtInt(verify.checked ?? NaN)} events, ${fmtInt(verify.checkpoints ?? NaN)} signed checkpoints)${verify.ok ? '' : ` ${JSON.stringify(verify.firstProblem)}`}`);

  const serverWarnings = { countersign: cs.warnings, baseline: base.warnings, minimal: min.warnings, sealer: sealer?.warnings ?? null };
  if (cs.warnings) console.log(`\nnote: Countersign logged ${cs.warnings} warning/error lines during the run; last ones:\n${cs.output(5)}`);
  if (sealer?.warnings) console.log(`\nnote: the sealer logged ${sealer.warnings} warning/error lines during the run; last ones:\n${sealer.output(5)}`);
  await lagClient.end().catch(() => undefined);
  await Promise.all([cs.stop(), base.stop(), min.stop(), sealer?.stop()]);

  const slack: SlackSection = SCENARIOS.has('slack') ? await runSlackSection(policyFile) : { status: 'skipped', message: 'not selected (BENCH_SCENARIOS)' };
  if (slack.status !== 'measured') console.log(`\nSlack callback: ${slack.message}`);
  else console.log(`  slack       ${slack.connections} conn  ${fmtInt(slack.rps ?? NaN)} req/s  p50 ${fmt(slack.p50 ?? NaN)} ms  p99 ${fmt(slack.p99 ?? NaN)} ms  non-2xx ${slack.non2xx ?? '–'}`);

  printConsoleTable();
  const checks = targetChecks(slack);
  console.log('\nTargets (reported, not asserted):');
  for (const c of checks) console.log(`  ${c.met === null ? '–' : c.met ? '✓' : '✗'} ${c.target}: ${c.measured}`);

  const md =
    markdown(machine, checks, slack, startedAt) +
    (longPoll
      ? `\n\nLong-polls: ${fmtInt(longPoll.waiters)} clients waiting on one pending request cost ${fmt(longPoll.rssHoldingMiB - longPoll.rssBeforeMiB, 1)} MiB of the node's resident memory (${fmt(longPoll.rssBeforeMiB, 0)} → ${fmt(longPoll.rssHoldingMiB, 0)} MiB) and ${longPoll.xactsHolding} database transactions in ${longPoll.windowSeconds} s of waiting (${longPoll.xactsIdle} in an idle window as long, the node's own background work); all ${fmtInt(longPoll.answered)} had their answer ${fmtInt(longPoll.allAnsweredMs)} ms after the decision.`
      : '');
  console.log('\n--- Markdown (for the README) ---\n');
  console.log(md);

  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(
    RESULTS_FILE,
    JSON.stringify(
      {
        runId,
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        machine,
        settings: {
          durationSec: DURATION, warmupSec: WARMUP, connections: CONNECTIONS,
          countersign: { RUN_MODE: 'api', LOG_LEVEL, DATABASE_POOL_SIZE: 20, AUDIT_SEAL_INTERVAL_MS: SEAL_INTERVAL_MS, extraEnv: process.env.BENCH_EXTRA_ENV ?? null },
          baseline: { poolSize: 20 }, minimal: { poolSize: 20 }, loadGenerator: 'autocannon 8 (separate process, same machine)',
        },
        targets: TARGETS,
        results: cells.map((c) => ({ ...c, label: SCENARIO_LABEL[c.scenario] })),
        ratios: cells
          .filter((c) => c.server === 'countersign')
          .map((c) => {
            const b = cell(c.scenario, 'baseline', c.connections);
            const m = cell(c.scenario, 'minimal', c.connections);
            return { scenario: c.scenario, connections: c.connections, rpsRatio: b ? c.rps / b.rps : null, p99Ratio: b ? c.latencyMs.p99 / b.latencyMs.p99 : null, rpsRatioMinimal: m ? c.rps / m.rps : null };
          }),
        auditLogAfterRun: verify,
        checks,
        slack,
        longPoll: longPoll ?? null,
        serverWarnings,
        markdown: md,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nResults written to ${path.relative(ROOT, RESULTS_FILE)}`);
}

main()
  .then(async () => {
    await cleanup();
    process.exit(interrupted ? 130 : 0);
  })
  .catch(async (err) => {
    if (!interrupted) console.error(`\nbench failed: ${err instanceof StartError ? err.message : (err as Error).stack ?? err}`);
    await cleanup().catch(() => undefined);
    process.exit(interrupted ? 130 : err instanceof StartError ? 2 : 1);
  });
