/**
 * What holding many long-polls costs a Countersign API node: `n` clients waiting on one pending request with
 * `GET /v1/requests/:id?wait=60`. Reports the node's resident memory before and while they wait, the database
 * transactions committed while they wait and nothing changes (against an idle window of the same length before, which
 * holds the node's own background work such as the directory refresh), and how long after a decision every waiter has
 * its answer. Used by bench/run-bench.ts (scenario `longpoll`).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { adminQuery, sleep } from './bench-support';

export interface LongPollResult {
  waiters: number;
  rssBeforeMiB: number;
  rssHoldingMiB: number;
  /** Transactions committed by the Countersign database during the hold window, and during an idle window as long. */
  xactsHolding: number;
  xactsIdle: number;
  windowSeconds: number;
  /** From the decision's answer to the last waiter's answer. */
  allAnsweredMs: number;
  answered: number;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * A backend reports its statistics to pg_stat_database lazily: at the latest about 10 s after it went idle. Every read of
 * the counter therefore waits that long first, so it includes everything committed before it was called.
 */
const STATS_FLUSH_MS = 11_000;

async function transactions(dbUrl: string, dbName: string): Promise<number> {
  await sleep(STATS_FLUSH_MS);
  // Asked through the maintenance database, so the question itself is not counted.
  const [row] = await adminQuery<{ n: string }>('SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = $1', [dbName]);
  return Number(row?.n ?? NaN);
}

export async function runLongPollBench(opts: {
  baseUrl: string;
  pid: number;
  dbUrl: string;
  dbName: string;
  submitHeaders: Record<string, string>;
  pendingBody: string;
  /** Headers and body of a vote that decides the request. */
  decide: { headers: Record<string, string>; body: (id: string) => string };
  waiters?: number;
  windowSeconds?: number;
}): Promise<LongPollResult> {
  const n = opts.waiters ?? 2000;
  // Long enough for a reading's own wait for statistics (see transactions()).
  const windowSeconds = Math.max(opts.windowSeconds ?? 15, 12);
  const created = await fetch(`${opts.baseUrl}/v1/requests`, { method: 'POST', headers: opts.submitHeaders, body: opts.pendingBody });
  const { id } = (await created.json()) as { id: string };
  if (!id) throw new Error(`could not create the pending request (${created.status})`);

  const idle0 = await transactions(opts.dbUrl, opts.dbName);
  const rssBeforeMiB = rssMiB(opts.pid);
  await sleep(windowSeconds * 1000 - STATS_FLUSH_MS);
  const idle1 = await transactions(opts.dbUrl, opts.dbName);

  // One socket per waiter, as n separate agents would hold them.
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const url = new URL(`${opts.baseUrl}/v1/requests/${id}?wait=60`);
  let answered = 0;
  let lastAnswerAt = 0;
  const statuses = new Map<number, number>();
  const open = () => new Promise<void>((resolve) => {
    const req = http.get(url, { agent, headers: { authorization: opts.submitHeaders.authorization } }, (res) => {
      res.resume();
      res.on('end', () => {
        statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
        if (res.statusCode === 200) answered++;
        lastAnswerAt = Date.now();
        resolve();
      });
    });
    req.on('error', () => resolve());
  });
  // Waiters arrive over a couple of seconds (as clients re-polling do), not as one burst of n connections at once.
  const waits: Promise<void>[] = [];
  for (let i = 0; i < n; i += 100) {
    for (let j = i; j < Math.min(n, i + 100); j++) waits.push(open());
    await sleep(100);
  }
  // Wait until the node holds every one of them (its own gauge), so their first reads are over.
  const holding = async () => Number(/^countersign_long_polls_waiting (\d+)/m.exec(await (await fetch(`${opts.baseUrl}/metrics`)).text())?.[1] ?? 0);
  for (let i = 0; i < 100 && (await holding()) < n; i++) await sleep(200);
  if ((await holding()) < n) throw new Error(`only ${await holding()} of ${n} long-polls are waiting (answers so far: ${JSON.stringify([...statuses])})`);
  const hold0 = await transactions(opts.dbUrl, opts.dbName);
  await sleep(windowSeconds * 1000 - STATS_FLUSH_MS);
  const hold1 = await transactions(opts.dbUrl, opts.dbName);
  // Resident memory after the arrivals' garbage has had its chance to be collected.
  const rssHoldingMiB = rssMiB(opts.pid);

  const decidedAt = Date.now();
  const vote = await fetch(`${opts.baseUrl}/v1/requests/${id}/decisions`, { method: 'POST', headers: opts.decide.headers, body: opts.decide.body(id) });
  if (vote.status !== 201) throw new Error(`the deciding vote answered ${vote.status}`);
  await Promise.race([Promise.all(waits), sleep(30_000)]);
  agent.destroy();
  return {
    waiters: n,
    rssBeforeMiB,
    rssHoldingMiB,
    xactsHolding: hold1 - hold0,
    xactsIdle: idle1 - idle0,
    windowSeconds,
    allAnsweredMs: lastAnswerAt - decidedAt,
    answered,
  };
}
