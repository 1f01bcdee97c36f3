/**
 * A local stand-in for Slack, speaking its wire format so the real WebClient and Bolt can be pointed at it with
 * SLACK_API_URL:
 *
 * - Web API at `<url>/api/<method>`: form-encoded (or JSON) bodies, JSON-encoded `blocks`/`view`, `Authorization:
 *   Bearer` token checked, answers `{ ok: true, … }` / `{ ok: false, error }` with HTTP 200 as Slack does, and HTTP 429
 *   with `Retry-After` when scripted. Messages over Block Kit's limits are refused (`invalid_blocks`,
 *   `msg_blocks_too_long`), as Slack refuses them.
 * - `response_url`s at `<url>/response/<id>` (what Bolt's respond() and our ephemeral replies post to).
 * - Socket Mode: `apps.connections.open` returns a `ws://` URL served here; tests push envelopes through it and read
 *   the client's acks.
 *
 * Every call is recorded (method, decoded arguments, token, answer) so tests assert what Slack would have received.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { SLACK_LIMITS, slackLimitProblems } from '../support/block-kit-limits';

export interface FakeSlackUser {
  id: string;
  name: string;
  realName?: string;
  email?: string;
  isBot?: boolean;
}

export interface FakeSlackCall {
  method: string;
  args: Record<string, any>;
  token: string | undefined;
  contentType: string;
  /** HTTP status and body the fake answered. */
  status: number;
  response: Record<string, any>;
  at: number;
}

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  text?: string;
  blocks?: any[];
  /** The message metadata given to chat.postMessage (`{ event_type, event_payload }`), kept as Slack keeps it. */
  metadata?: { event_type: string; event_payload?: Record<string, unknown> };
  /** Every version of the message, oldest first (postMessage, then each chat.update). */
  history: { text?: string; blocks?: any[] }[];
}

/** A scripted answer for the next call(s) of a method; `status: 429` answers with Retry-After. */
export interface ScriptedFailure {
  error?: string;
  status?: number;
  retryAfterSeconds?: number;
  /** Only calls whose args match (e.g. `{ channel: 'C1' }`). */
  match?: Record<string, string>;
  /** How many calls it answers (default 1). */
  times?: number;
}

export interface FakeSocketEnvelopeAck {
  envelope_id: string;
  payload?: unknown;
}

export interface FakeSlackApi {
  /** Root to use as SLACK_API_URL (ends with `/api/`). */
  apiUrl: string;
  /** http://127.0.0.1:port */
  baseUrl: string;
  botToken: string;
  appToken: string;
  /** The workspace the fake is (what auth.test answers, and users' team). */
  teamId: string;
  calls: FakeSlackCall[];
  /** Bodies posted to response_urls, by response id. */
  responses: { id: string; body: any; at: number }[];
  /** Current state of every posted message, keyed `${channel}:${ts}`. */
  messages: Map<string, FakeSlackMessage>;
  callsTo(method: string): FakeSlackCall[];
  addUser(user: FakeSlackUser): void;
  addChannel(id: string, opts?: { archived?: boolean; member?: boolean }): void;
  setUserGroup(id: string, userIds: string[]): void;
  /** Makes the next matching call(s) of `method` fail. */
  fail(method: string, failure: ScriptedFailure): void;
  /** Delays every answer of `method` by `ms` (0 removes the delay), to show who waits on Slack and who does not. */
  slow(method: string, ms: number): void;
  /**
   * Carries out every call of `method` at once but answers it `ms` later (0: at once), as Slack does when its answer
   * is lost or late: a client that gives up first has still posted.
   */
  answerLate(method: string, ms: number): void;
  /** Runs `fn` for every call of `method` once it is carried out, before it is answered (to stage a fault in between). */
  onCall(method: string, fn: (args: Record<string, any>) => void): void;
  /** A fresh response_url pointing at this fake. */
  responseUrl(): string;
  responseId(url: string): string;
  /** Messages in one channel, oldest first. */
  messagesIn(channel: string): FakeSlackMessage[];
  /** Socket Mode: the open client connections. */
  socketConnections(): number;
  /** Socket Mode: drops every client connection, as a network fault would. */
  dropSocketConnections(): void;
  /** Socket Mode: sends an envelope to every connected client; resolves with the client's ack. */
  sendEnvelope(envelope: { type: string; payload: unknown; accepts_response_payload?: boolean }, timeoutMs?: number): Promise<FakeSocketEnvelopeAck>;
  close(): Promise<void>;
}

/** Decodes a request body the way Slack does: form fields, with JSON-encoded complex arguments. */
function decodeArgs(raw: string, contentType: string): Record<string, any> {
  if (contentType.startsWith('application/json')) return raw ? JSON.parse(raw) : {};
  const out: Record<string, any> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    if (/^(blocks|view|attachments|metadata)$/.test(k)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        /* Slack itself answers invalid_blocks; keep the text so tests can see it */
      }
    }
    out[k] = v;
  }
  return out;
}

function publicUser(u: FakeSlackUser, teamId: string) {
  return {
    id: u.id,
    team_id: teamId,
    name: u.name,
    deleted: false,
    real_name: u.realName ?? u.name,
    is_bot: Boolean(u.isBot),
    tz: 'Europe/Berlin',
    profile: {
      real_name: u.realName ?? u.name,
      display_name: u.name,
      ...(u.email ? { email: u.email } : {}),
      team: teamId,
    },
  };
}

/**
 * Slack refuses blocks over its limits: `msg_blocks_too_long` past the total, `invalid_blocks` (with the problems) for
 * any other limit, as the real API answers.
 */
function blocksRefused(args: Record<string, any>): Record<string, any> | undefined {
  if (!Array.isArray(args.blocks)) return undefined;
  if (JSON.stringify(args.blocks).length > SLACK_LIMITS.totalBlocksChars) return { ok: false, error: 'msg_blocks_too_long' };
  const problems = slackLimitProblems({ text: args.text, blocks: args.blocks });
  return problems.length ? { ok: false, error: 'invalid_blocks', errors: problems } : undefined;
}

/** Starts the fake on a random local port. */
export async function startFakeSlackApi(opts: { botToken?: string; appToken?: string; teamId?: string } = {}): Promise<FakeSlackApi> {
  const botToken = opts.botToken ?? 'xoxb-fake-0000-bot-token';
  const teamId = opts.teamId ?? 'T0000TEST';
  const appToken = opts.appToken ?? 'xapp-1-fake-app-token';
  const calls: FakeSlackCall[] = [];
  const responses: FakeSlackApi['responses'] = [];
  const messages = new Map<string, FakeSlackMessage>();
  const users = new Map<string, FakeSlackUser>();
  const channels = new Map<string, { archived: boolean; member: boolean }>();
  const groups = new Map<string, string[]>();
  const script = new Map<string, ScriptedFailure[]>();
  const delays = new Map<string, number>();
  const late = new Map<string, number>();
  const lateTimers = new Set<NodeJS.Timeout>();
  const hooks = new Map<string, ((args: Record<string, any>) => void)[]>();
  let seq = 0;
  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;

  function scripted(method: string, args: Record<string, any>): ScriptedFailure | undefined {
    const list = script.get(method);
    if (!list) return undefined;
    const i = list.findIndex((f) => !f.match || Object.entries(f.match).every(([k, v]) => String(args[k]) === v));
    if (i < 0) return undefined;
    const f = list[i];
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) list.splice(i, 1);
    return f;
  }

  function channelProblem(channel: string | undefined): string | undefined {
    if (!channel) return 'channel_not_found';
    if (channel.startsWith('D')) return undefined;
    const c = channels.get(channel);
    if (!c) return 'channel_not_found';
    if (c.archived) return 'is_archived';
    if (!c.member) return 'not_in_channel';
    return undefined;
  }

  /** The Web API methods the adapter uses, answered as Slack answers them. */
  function answer(method: string, args: Record<string, any>, token: string | undefined): Record<string, any> {
    if (method === 'api.test') return { ok: true, args };
    const expected = method === 'apps.connections.open' ? appToken : botToken;
    if (!token) return { ok: false, error: 'not_authed' };
    if (token !== expected) return { ok: false, error: 'invalid_auth' };
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://fake.slack.test/', team: 'Fake', user: 'countersign', team_id: teamId, user_id: 'U0000BOT', bot_id: 'B0000BOT' };
      case 'chat.postMessage': {
        const refused = blocksRefused(args);
        if (refused) return refused;
        let channel = String(args.channel ?? '');
        if (users.has(channel)) channel = `D${channel.slice(1)}`;
        const problem = channelProblem(channel);
        if (problem) return { ok: false, error: problem };
        if (!args.text && !args.blocks) return { ok: false, error: 'no_text' };
        const ts = nextTs();
        const metadata = args.metadata && typeof args.metadata === 'object' ? args.metadata : undefined;
        messages.set(`${channel}:${ts}`, { channel, ts, text: args.text, blocks: args.blocks, metadata, history: [{ text: args.text, blocks: args.blocks }] });
        return { ok: true, channel, ts, message: { type: 'message', user: 'U0000BOT', bot_id: 'B0000BOT', text: args.text, blocks: args.blocks, ts } };
      }
      case 'conversations.history': {
        // Newest first, from `oldest` on; metadata only with include_all_metadata, paged by an opaque cursor.
        const channel = String(args.channel ?? '');
        const problem = channelProblem(channel);
        if (problem) return { ok: false, error: problem };
        const oldest = Number(args.oldest ?? 0);
        const all = [...messages.values()].filter((m) => m.channel === channel && Number(m.ts) >= oldest).sort((a, b) => b.ts.localeCompare(a.ts));
        const offset = Number(args.cursor ? Buffer.from(String(args.cursor), 'base64').toString() : 0);
        const limit = Math.min(Number(args.limit ?? 100), 999);
        const page = all.slice(offset, offset + limit);
        const more = offset + limit < all.length;
        const withMeta = args.include_all_metadata === true || args.include_all_metadata === 'true';
        return {
          ok: true,
          messages: page.map((m) => ({ type: 'message', user: 'U0000BOT', bot_id: 'B0000BOT', text: m.text, blocks: m.blocks, ts: m.ts, ...(withMeta && m.metadata ? { metadata: m.metadata } : {}) })),
          has_more: more,
          response_metadata: { next_cursor: more ? Buffer.from(String(offset + limit)).toString('base64') : '' },
        };
      }
      case 'chat.update': {
        const refused = blocksRefused(args);
        if (refused) return refused;
        const channel = String(args.channel ?? '');
        const problem = channelProblem(channel);
        if (problem) return { ok: false, error: problem };
        const msg = messages.get(`${channel}:${args.ts}`);
        if (!msg) return { ok: false, error: 'message_not_found' };
        msg.text = args.text;
        msg.blocks = args.blocks;
        msg.history.push({ text: args.text, blocks: args.blocks });
        return { ok: true, channel, ts: msg.ts, text: args.text, message: { text: args.text, blocks: args.blocks } };
      }
      case 'chat.postEphemeral': {
        const problem = channelProblem(String(args.channel ?? ''));
        if (problem) return { ok: false, error: problem };
        if (!users.has(String(args.user))) return { ok: false, error: 'user_not_found' };
        return { ok: true, message_ts: nextTs() };
      }
      case 'conversations.open': {
        const ids = String(args.users ?? '').split(',').filter(Boolean);
        if (ids.length !== 1 || !users.has(ids[0])) return { ok: false, error: 'user_not_found' };
        return { ok: true, channel: { id: `D${ids[0].slice(1)}` } };
      }
      case 'users.info': {
        const u = users.get(String(args.user));
        return u ? { ok: true, user: publicUser(u, teamId) } : { ok: false, error: 'user_not_found' };
      }
      case 'users.lookupByEmail': {
        const email = String(args.email ?? '').toLowerCase();
        const u = [...users.values()].find((x) => x.email?.toLowerCase() === email);
        return u ? { ok: true, user: publicUser(u, teamId) } : { ok: false, error: 'users_not_found' };
      }
      case 'usergroups.users.list': {
        const members = groups.get(String(args.usergroup));
        return members ? { ok: true, users: members } : { ok: false, error: 'no_such_subteam' };
      }
      case 'views.open': {
        if (!args.trigger_id) return { ok: false, error: 'invalid_trigger_id' };
        if (!args.view || typeof args.view !== 'object') return { ok: false, error: 'invalid_arguments' };
        return { ok: true, view: { id: `V${randomBytes(5).toString('hex').toUpperCase()}`, team_id: teamId, ...args.view, state: { values: {} }, hash: '1.abc' } };
      }
      case 'apps.connections.open':
        return { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=${randomBytes(8).toString('hex')}&app_id=A0000TEST` };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = /^\/api\/([a-zA-Z.]+)$/.exec(new URL(req.url ?? '/', 'http://fake').pathname)?.[1];
      const delay = method ? delays.get(method) ?? 0 : 0;
      if (delay > 0) setTimeout(handle, delay);
      else handle();
    });
    function handle() {
      const raw = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://fake');
      const contentType = String(req.headers['content-type'] ?? '');
      const lateMs = late.get(/^\/api\/([a-zA-Z.]+)$/.exec(url.pathname)?.[1] ?? '') ?? 0;
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        const answer = () => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
          res.end(JSON.stringify(body));
        };
        if (lateMs <= 0) return answer();
        const timer = setTimeout(() => {
          lateTimers.delete(timer);
          answer();
        }, lateMs);
        lateTimers.add(timer);
      };

      const response = /^\/response\/([^/]+)$/.exec(url.pathname);
      if (response && req.method === 'POST') {
        let body: any = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          /* keep text */
        }
        responses.push({ id: response[1], body, at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
        return;
      }

      const api = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname);
      if (!api || req.method !== 'POST') return send(404, { ok: false, error: 'unknown_method' });
      const method = api[1];
      let args: Record<string, any>;
      try {
        args = decodeArgs(raw, contentType);
      } catch {
        return send(200, { ok: false, error: 'invalid_json' });
      }
      const auth = String(req.headers.authorization ?? '');
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : typeof args.token === 'string' ? args.token : undefined;
      const record = (status: number, body: Record<string, any>) => {
        calls.push({ method, args, token, contentType, status, response: body, at: Date.now() });
      };

      const failure = scripted(method, args);
      if (failure) {
        if (failure.status === 429) {
          const body = { ok: false, error: 'ratelimited' };
          record(429, body);
          return send(429, body, { 'retry-after': String(failure.retryAfterSeconds ?? 1) });
        }
        const status = failure.status ?? 200;
        const body = { ok: false, error: failure.error ?? 'internal_error' };
        record(status, body);
        return send(status, body);
      }
      const body = answer(method, args, token);
      record(200, body);
      for (const hook of hooks.get(method) ?? []) hook(args);
      send(200, body, { 'x-oauth-scopes': 'chat:write,commands,users:read,users:read.email,im:write,usergroups:read,channels:history,groups:history' });
    }
  });

  // Socket Mode: the same server upgrades /link/ to a websocket and greets with `hello`, as Slack does.
  const wss = new WebSocket.Server({ server, path: '/link/' });
  const sockets = new Set<WebSocket>();
  const pendingAcks = new Map<string, (ack: FakeSocketEnvelopeAck) => void>();
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', () => sockets.delete(ws));
    ws.on('message', (data) => {
      try {
        const msg = JSON.parse(String(data)) as FakeSocketEnvelopeAck;
        pendingAcks.get(msg.envelope_id)?.(msg);
        pendingAcks.delete(msg.envelope_id);
      } catch {
        /* ignore non-JSON frames */
      }
    });
    ws.send(JSON.stringify({ type: 'hello', num_connections: sockets.size, debug_info: { host: 'fake-socket-mode', approximate_connection_time: 18060 }, connection_info: { app_id: 'A0000TEST' } }));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    apiUrl: `${baseUrl}/api/`,
    baseUrl,
    botToken,
    appToken,
    teamId,
    calls,
    responses,
    messages,
    callsTo: (method) => calls.filter((c) => c.method === method),
    addUser: (u) => void users.set(u.id, u),
    addChannel: (id, o = {}) => void channels.set(id, { archived: Boolean(o.archived), member: o.member ?? true }),
    setUserGroup: (id, ids) => void groups.set(id, ids),
    slow: (method, ms) => void delays.set(method, ms),
    answerLate: (method, ms) => void late.set(method, ms),
    onCall: (method, fn) => void hooks.set(method, [...(hooks.get(method) ?? []), fn]),
    fail: (method, failure) => {
      const list = script.get(method) ?? [];
      list.push({ ...failure });
      script.set(method, list);
    },
    responseUrl: () => `${baseUrl}/response/${randomBytes(6).toString('hex')}`,
    responseId: (u) => u.slice(u.lastIndexOf('/') + 1),
    messagesIn: (channel) => [...messages.values()].filter((m) => m.channel === channel).sort((a, b) => a.ts.localeCompare(b.ts)),
    socketConnections: () => sockets.size,
    dropSocketConnections() {
      for (const ws of sockets) ws.terminate();
    },
    sendEnvelope(envelope, timeoutMs = 5_000) {
      const envelope_id = `${randomBytes(4).toString('hex')}-${randomBytes(2).toString('hex')}-${randomBytes(6).toString('hex')}`;
      return new Promise<FakeSocketEnvelopeAck>((resolve, reject) => {
        const timer = setTimeout(() => {
          pendingAcks.delete(envelope_id);
          reject(new Error(`no Socket Mode ack for ${envelope_id} within ${timeoutMs} ms`));
        }, timeoutMs);
        pendingAcks.set(envelope_id, (ack) => {
          clearTimeout(timer);
          resolve(ack);
        });
        const frame = JSON.stringify({ envelope_id, accepts_response_payload: false, ...envelope });
        for (const ws of sockets) ws.send(frame);
      });
    },
    async close() {
      for (const timer of lateTimers) clearTimeout(timer);
      for (const ws of sockets) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
