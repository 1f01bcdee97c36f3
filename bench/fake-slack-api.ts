/**
 * A tiny stand-in for the Slack Web API, for the Slack button-callback bench: every method answers HTTP 200 with
 * `{"ok":true,...}` JSON. A few methods get the fields a client may read (`chat.postMessage` a `ts`, `users.info` a user
 * whose email is one of the bench approvers, derived from the user id, so any clicking user maps to an eligible approver).
 *
 * Run as a child process by bench/run-bench.ts; env PORT (0 = any port), APPROVER_COUNT; prints `listening <port>`.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const approverCount = Number(process.env.APPROVER_COUNT ?? 20);
let calls = 0;

function approverFor(userId: string): number {
  const m = /^U0BENCH(\d+)$/.exec(userId);
  if (m) return ((Number(m[1]) - 1) % approverCount) + 1;
  return (createHash('sha1').update(userId).digest().readUInt32BE(0) % approverCount) + 1;
}

const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (raw += chunk));
  req.on('end', () => {
    calls++;
    const method = (req.url ?? '').split('?')[0].split('/').filter(Boolean).pop() ?? '';
    const params = new URLSearchParams(raw.startsWith('{') ? '' : raw);
    let body: Record<string, unknown> = { ok: true };
    if (method === 'chat.postMessage' || method === 'chat.update' || method === 'chat.postEphemeral') {
      body = { ok: true, channel: params.get('channel') ?? 'C0BENCH', ts: `${Math.floor(Date.now() / 1000)}.${String(calls).padStart(6, '0')}` };
    } else if (method === 'users.info') {
      const id = params.get('user') ?? 'U0BENCH';
      const n = approverFor(id);
      body = { ok: true, user: { id, name: `approver-${n}`, real_name: `Approver ${n}`, profile: { email: `approver-${n}@example.com`, real_name: `Approver ${n}`, display_name: `approver-${n}` } } };
    } else if (method === 'auth.test') {
      body = { ok: true, user_id: 'UBENCH', bot_id: 'BBENCH', team_id: 'T0BENCH', user: 'countersign' };
    } else if (method === 'conversations.open') {
      body = { ok: true, channel: { id: 'D0BENCH' } };
    }
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
