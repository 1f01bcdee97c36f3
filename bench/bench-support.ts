/**
 * Plumbing for bench/run-bench.ts: child server processes, throw-away databases and Redis prefixes, the load
 * generator (autocannon, in THIS process, so load and server never share an event loop), and machine facts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';

export const ROOT = path.resolve(__dirname, '..');
export const ADMIN_URL = process.env.BENCH_ADMIN_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Child processes

const children = new Set<ChildServer>();

/** A server run as a child process (`node --import tsx <script>`), with its output kept for diagnosis. */
export class ChildServer {
  readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** Lines at warn level or above that the server logged (pino JSON `level` >= 40), or anything on stderr. */
  warnings = 0;
  /** Warning/error lines grouped by their pino `msg` (or the first 100 characters of a non-JSON line). */
  readonly warningKinds = new Map<string, number>();
  private exitPromise: Promise<void>;

  constructor(readonly name: string, script: string, env: Record<string, string>, opts: { cwd?: string; nodeArgs?: string[] } = {}) {
    const tsx = pathToFileURL(require.resolve('tsx', { paths: [ROOT] })).href;
    this.proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', tsx, script], {
      cwd: opts.cwd ?? ROOT,
      // A clean environment: nothing from the bench's own shell (SLACK_*, DATABASE_URL, …) leaks into the server.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'production', TSX_TSCONFIG_PATH: path.join(ROOT, 'tsconfig.json'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(this);
    const collect = (stream: 'out' | 'err') => (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        if (stream === 'err' || /"level":\s*([4-9]\d)/.test(line)) {
          this.warnings++;
          let kind = line.slice(0, 100);
          try {
            const j = JSON.parse(line) as { msg?: string; level?: number };
            if (j.msg) kind = `${j.level === 40 ? 'warn' : j.level === 50 ? 'error' : `level ${j.level}`}: ${j.msg}`;
          } catch {
            // not pino JSON
          }
          if (this.warningKinds.size < 50 || this.warningKinds.has(kind)) this.warningKinds.set(kind, (this.warningKinds.get(kind) ?? 0) + 1);
        }
        this.lines.push(`[${stream}] ${line}`);
        if (this.lines.length > 200) this.lines.shift();
      }
    };
    this.proc.stdout?.on('data', collect('out'));
    this.proc.stderr?.on('data', collect('err'));
    this.exitPromise = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exited = { code, signal };
        children.delete(this);
        resolve();
      });
    });
  }

  output(last = 40): string {
    return this.lines.slice(-last).join('\n');
  }

  /** Lines printed so far that match a pattern (e.g. the fake Slack API's port announcement). */
  async waitForLine(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const l of this.lines) {
        const m = l.match(re);
        if (m) return m;
      }
      if (this.exited) break;
      await sleep(50);
    }
    throw new Error(`${this.name} did not print ${re} within ${timeoutMs} ms${this.exited ? ` (exited with ${this.exited.code ?? this.exited.signal})` : ''}\n${this.output()}`);
  }

  /** Polls `url` until it answers 200; fails early if the process exits. */
  async waitReady(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (this.exited) break;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
        last = `HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(200);
    }
    const why = this.exited ? `exited with ${this.exited.code ?? this.exited.signal}` : `not ready after ${timeoutMs} ms (${last})`;
    throw new Error(`${this.name} failed to start: ${why}\n--- last output of ${this.name} ---\n${this.output()}`);
  }

  async stop(timeoutMs = 8_000): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => c.stop().catch(() => undefined)));
}

/** Last resort on `exit`: no awaiting possible, so kill outright. */
export function killAllChildrenSync(): void {
  for (const c of children) {
    try {
      c.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Databases and Redis

export function databaseUrl(name: string): string {
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values: unknown[] = [], url = ADMIN_URL): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function createDatabase(name: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  await adminQuery(`CREATE DATABASE ${name}`);
}

export async function dropDatabase(name: string): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(name)) return;
  await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** Deletes every key under `prefix:` (BullMQ queues and the pub/sub channel namespace of one bench run). */
export async function deleteRedisPrefix(prefix: string): Promise<number> {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) return 0;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

// ---------------------------------------------------------------------------------------------------------------
// Load

export interface LoadResult {
  connections: number;
  durationSec: number;
  /** Responses with a 2xx status. */
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** 2xx responses per second over the whole cell. */
  rps: number;
  /** Latencies of 2xx responses, in ms, from autocannon's per-response timings (sub-millisecond precision). */
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

export interface LoadOptions {
  url: string;
  connections: number;
  duration: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Per-request dynamic path/body (autocannon `setupRequest`). */
  setupRequest?: (req: autocannon.Request) => autocannon.Request;
  /** Stop early after this many requests (0 = run for `duration`). */
  amount?: number;
  onInstance?: (instance: autocannon.Instance) => void;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  let lat = new Float64Array(1 << 16);
  let n = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        duration: opts.duration,
        amount: opts.amount || undefined,
        timeout: 10,
        requests: [
          {
            method: opts.method ?? 'POST',
            headers: opts.headers,
            body: opts.body,
            ...(opts.setupRequest ? { setupRequest: opts.setupRequest } : {}),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (n === lat.length) {
        const bigger = new Float64Array(lat.length * 2);
        bigger.set(lat);
        lat = bigger;
      }
      lat[n++] = responseTime;
    });
    opts.onInstance?.(instance);
  });
  const sorted = lat.subarray(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = (v as { count: number }).count;
  const durationSec = result.duration;
  return {
    connections: opts.connections,
    durationSec,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    rps: durationSec > 0 ? result['2xx'] / durationSec : 0,
    latencyMs: { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99), max: n ? sorted[n - 1] : NaN, mean: n ? sum / n : NaN },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Machine

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  redis: string;
}

export async function machineInfo(): Promise<MachineInfo> {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) cpuModel = m[1].trim();
  } catch {
    // not Linux
  }
  let memKiB = os.totalmem() / 1024;
  try {
    const m = readFileSync('/proc/meminfo', 'utf8').match(/^MemTotal:\s+(\d+) kB/m);
    if (m) memKiB = Number(m[1]);
  } catch {
    // not Linux
  }
  const postgres = await adminQuery<{ server_version: string }>('SHOW server_version').then((r) => r[0].server_version, () => 'unknown');
  let redis = 'unknown';
  const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    redis = (await conn.info('server')).match(/redis_version:(\S+)/)?.[1] ?? 'unknown';
  } catch {
    // reported as unknown
  } finally {
    conn.disconnect();
  }
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel,
    memoryGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres,
    redis,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Other load on the machine. The bench machine may be shared (other test suites, builds): CPU used by processes that
// are not part of this bench skews every figure, so it is measured per cell, and the bench waits for quiet at start.

interface ProcSample {
  ticks: number;
  ppid: number;
  cmd: string;
}

export interface CpuSnapshot {
  at: number;
  procs: Map<number, ProcSample>;
  /** Machine-wide CPU time stolen by the hypervisor (/proc/stat), in ticks. */
  steal: number;
}

function readSteal(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    return Number(cpu[8] ?? 0);
  } catch {
    return 0;
  }
}

export interface ForeignLoad {
  /** CPU used by processes outside this bench plus CPU stolen by the hypervisor, in cores (1.0 = one core). */
  cores: number;
  stealCores: number;
  top: { pid: number; cmd: string; cores: number }[];
}

const CLK_TCK = 100;

export function snapshotCpu(): CpuSnapshot {
  const procs = new Map<number, ProcSample>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return { at: Date.now(), procs, steal: 0 };
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // rest[0] = state (field 3), rest[1] = ppid (4), rest[11] = utime (14), rest[12] = stime (15)
      const ticks = Number(rest[11]) + Number(rest[12]);
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
      } catch {
        // gone
      }
      if (!cmd) cmd = `[${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}]`;
      procs.set(Number(e), { ticks, ppid: Number(rest[1]), cmd });
    } catch {
      // the process exited while we looked
    }
  }
  return { at: Date.now(), procs, steal: readSteal() };
}

/**
 * Attributes CPU between two snapshots: ours = this process and its descendants, the Postgres backends of our
 * databases (and the admin database), and the shared Postgres/Redis service processes; everything else is foreign.
 */
export function foreignLoad(a: CpuSnapshot, b: CpuSnapshot, ourDatabases: string[]): ForeignLoad {
  const seconds = Math.max(0.001, (b.at - a.at) / 1000);
  const ours = new Set<number>([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of b.procs) {
      if (!ours.has(pid) && ours.has(p.ppid)) {
        ours.add(pid);
        grew = true;
      }
    }
  }
  const dbs = new Set([...ourDatabases, 'postgres']);
  const top: ForeignLoad['top'] = [];
  let total = 0;
  for (const [pid, p] of b.procs) {
    if (ours.has(pid)) continue;
    const backend = p.cmd.match(/^postgres: [^:]+: (\S+) (\S+) /);
    if (backend ? dbs.has(backend[2]) : /^postgres: |^\/usr\/lib\/postgresql\/|redis-server/.test(p.cmd)) continue;
    const before = a.procs.get(pid)?.ticks ?? 0;
    const cores = Math.max(0, p.ticks - before) / CLK_TCK / seconds;
    if (cores <= 0) continue;
    total += cores;
    top.push({ pid, cmd: p.cmd.slice(0, 100), cores });
  }
  const stealCores = Math.max(0, b.steal - a.steal) / CLK_TCK / seconds;
  if (stealCores >= 0.01) top.push({ pid: 0, cmd: '[hypervisor steal]', cores: stealCores });
  top.sort((x, y) => y.cores - x.cores);
  return { cores: total + stealCores, stealCores, top: top.slice(0, 3) };
}

/** Samples in 1-second windows until foreign load stays under `threshold` cores, or `maxMs` passes. */
export async function waitForQuiet(ourDatabases: string[], threshold: number, maxMs: number, onBusy?: (l: ForeignLoad) => void): Promise<{ waitedMs: number; last: ForeignLoad }> {
  const started = Date.now();
  let a = snapshotCpu();
  for (;;) {
    await sleep(1_000);
    const b = snapshotCpu();
    const load = foreignLoad(a, b, ourDatabases);
    if (load.cores < threshold || Date.now() - started >= maxMs) return { waitedMs: Date.now() - started, last: load };
    onBusy?.(load);
    a = b;
  }
}

export interface CpuBreakdown {
  /** CPU seconds used during the interval by each part of the system under test. */
  server: number;
  postgres: number;
  redis: number;
  loadGenerator: number;
}

/** CPU seconds spent by the server process (and its descendants), its database's backends, Redis and this process. */
export function cpuBreakdown(a: CpuSnapshot, b: CpuSnapshot, serverPid: number | undefined, database: string): CpuBreakdown {
  const delta = (pid: number) => Math.max(0, (b.procs.get(pid)?.ticks ?? 0) - (a.procs.get(pid)?.ticks ?? 0)) / CLK_TCK;
  const server = new Set<number>(serverPid ? [serverPid] : []);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of b.procs) {
      if (!server.has(pid) && server.has(p.ppid)) {
        server.add(pid);
        grew = true;
      }
    }
  }
  const out: CpuBreakdown = { server: 0, postgres: 0, redis: 0, loadGenerator: delta(process.pid) };
  for (const pid of server) out.server += delta(pid);
  for (const [pid, p] of b.procs) {
    const backend = p.cmd.match(/^postgres: [^:]+: (\S+) (\S+) /);
    if (backend && backend[2] === database) out.postgres += delta(pid);
    else if (/^postgres: [^:]+: (walwriter|checkpointer|background writer|autovacuum worker)/.test(p.cmd)) out.postgres += delta(pid);
    else if (/redis-server/.test(p.cmd)) out.redis += delta(pid);
  }
  return out;
}
