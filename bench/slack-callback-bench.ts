/**
 * Load on the Slack button-callback path: signed `block_actions` POSTs to /slack/events at 50 connections, measuring
 * how fast the service acknowledges (the HTTP answer is the ack; the vote and Slack calls happen after it).
 *
 * Used by bench/run-bench.ts, which starts the app against a fake Slack. Standalone, against a running server:
 *   BENCH_BASE_URL=http://127.0.0.1:3000 SLACK_SIGNING_SECRET=… BENCH_REQUEST_IDS=<uuid>,<uuid> [BENCH_RESPONSE_URL=…] \
 *     npx tsx bench/slack-callback-bench.ts [seconds]
 */
import autocannon from 'autocannon';
import { blockActionsPayload, interactionBody, signedHeaders } from '../test/fakes/slack-requests';

export interface SlackCallbackBenchOptions {
  baseUrl: string;
  signingSecret: string;
  /** Requests whose Approve button is clicked, round-robin. */
  requestIds: string[];
  durationSeconds: number;
  /** Slack user ids that click, round-robin (default: two approvers of the test workspace). */
  userIds?: string[];
  connections?: number;
  /** Stop after this many requests instead of after `durationSeconds` (short, bounded runs in tests). */
  amount?: number;
  /** Requests sent first and not measured, so JIT compilation and pool growth do not count (default 200). */
  warmupRequests?: number;
  /**
   * Where the adapter posts its ephemeral replies (the payload's response_url): point it at the fake Slack so the
   * replies do not load the server under test. Default: a closed local port, so replies fail fast.
   */
  responseUrl?: string;
}

export interface SlackCallbackBenchResult {
  /** Acknowledged requests per second (average). */
  rps: number;
  /** Ack latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  /** Answers other than 2xx, and connection errors: both should be 0. */
  non2xx: number;
  errors: number;
  total: number;
}

/** Runs the load and resolves with throughput and ack latency. */
export async function runSlackCallbackBench(opts: SlackCallbackBenchOptions): Promise<SlackCallbackBenchResult> {
  if (opts.requestIds.length === 0) throw new Error('runSlackCallbackBench: give at least one request id');
  const users = opts.userIds?.length ? opts.userIds : ['U0000ALICE', 'U0000BOB'];
  // Payloads are built once; only the timestamp and signature change per request, as with real Slack retries.
  const bodies = opts.requestIds.flatMap((requestId) =>
    users.map((userId) => interactionBody(blockActionsPayload({ requestId, userId, responseUrl: opts.responseUrl ?? 'http://127.0.0.1:9/slack-response' }))),
  );
  let n = 0;
  const load = (extra: { duration?: number; amount?: number }) =>
    autocannon({
      url: `${opts.baseUrl.replace(/\/$/, '')}/slack/events`,
      connections: opts.connections ?? 50,
      ...extra,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const body = bodies[n++ % bodies.length];
            return { ...req, method: 'POST', body, headers: signedHeaders(opts.signingSecret, body) };
          },
        },
      ],
    });
  const warmup = opts.warmupRequests ?? 200;
  if (warmup > 0) await load({ amount: warmup });
  const result = await load(opts.amount ? { amount: opts.amount } : { duration: opts.durationSeconds });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    total: result.requests.total,
  };
}

if (require.main === module) {
  const baseUrl = process.env.BENCH_BASE_URL ?? 'http://127.0.0.1:3000';
  const signingSecret = process.env.SLACK_SIGNING_SECRET;
  const requestIds = (process.env.BENCH_REQUEST_IDS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!signingSecret || requestIds.length === 0) {
    console.error('Set SLACK_SIGNING_SECRET and BENCH_REQUEST_IDS (comma-separated request ids), and BENCH_BASE_URL.');
    process.exit(2);
  }
  runSlackCallbackBench({ baseUrl, signingSecret, requestIds, durationSeconds: Number(process.argv[2] ?? 10), responseUrl: process.env.BENCH_RESPONSE_URL })
    .then((r) => {
      console.log(`slack block_actions: ${r.rps.toFixed(0)} req/s, ack p50 ${r.p50} ms, p99 ${r.p99} ms (${r.total} requests, ${r.non2xx} non-2xx, ${r.errors} errors)`);
      process.exit(r.non2xx || r.errors ? 1 : 0);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
