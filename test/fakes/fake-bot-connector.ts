/**
 * A local stand-in for the Bot Framework Connector service that Teams bots call (the `serviceUrl` of every Teams
 * activity). It speaks the v3 REST wire format botbuilder's ConnectorClient uses, records every call, keeps the
 * activities it was sent so tests can read the card a conversation currently shows, refuses messages over Teams' size
 * limit (413), and can be scripted to answer 429 (with Retry-After), 5xx or 403 like the real service does under
 * throttling and outages.
 *
 *   POST /v3/conversations                                     create a conversation (1:1 chat with a user)
 *   POST /v3/conversations/{id}/activities                     send a new activity
 *   POST /v3/conversations/{id}/activities/{activityId}        reply to an activity
 *   PUT  /v3/conversations/{id}/activities/{activityId}        update an activity (everyone sees the new card)
 *   GET  /v3/conversations/{id}/members/{userId}               one member (Teams user id, AAD object id or UPN)
 *
 * It also serves an OpenID configuration and a JWKS (`/openid/.well-known/openidconfiguration`, `/openid/keys`) so the
 * inbound JWT check can be exercised end to end without login.botframework.com.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ConnectorOperation = 'createConversation' | 'send' | 'reply' | 'update' | 'getMember' | 'openid';

export interface RecordedCall {
  operation: ConnectorOperation | 'unknown';
  method: string;
  path: string;
  conversationId?: string;
  activityId?: string;
  userId?: string;
  authorization?: string;
  body: any;
  /** The HTTP status this fake answered with. */
  status: number;
  at: number;
}

export interface TeamsMember {
  /** Teams user id (29:…). */
  id: string;
  name: string;
  aadObjectId: string;
  email?: string;
  userPrincipalName?: string;
  tenantId?: string;
  userRole?: string;
  givenName?: string;
  surname?: string;
}

export interface ScriptedFault {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Only calls whose request body contains this text get the fault (keeps stray jobs of earlier tests from taking it). */
  bodyIncludes?: string;
}

export interface StoredActivity {
  conversationId: string;
  id: string;
  /** Every version this activity had, oldest first (the post, then each update). */
  versions: any[];
  /** The latest version. */
  current: any;
}

export interface FakeBotConnector {
  /** Base URL to use as `serviceUrl` (ends with `/`). */
  readonly url: string;
  readonly calls: RecordedCall[];
  /** Adds (or replaces) a member returned by the member lookup, in every conversation. */
  addMember(member: TeamsMember): void;
  /** The next `times` calls of `operation` get this answer instead of success. */
  failNext(operation: ConnectorOperation, fault: ScriptedFault, times?: number): void;
  /** Makes the next `times` calls of `operation` wait for `ms` before answering (slow service). */
  delayNext(operation: ConnectorOperation, ms: number, times?: number): void;
  /**
   * Carries out the next `times` calls of `operation` at once (recorded, activities stored) but answers them `ms`
   * later, as when the connector's answer is late or lost: the bot may give up, or fail, after Teams has posted.
   */
  answerLateNext(operation: ConnectorOperation, ms: number, times?: number): void;
  /** Activities by conversation id and activity id, as posted and updated. */
  activity(conversationId: string, activityId: string): StoredActivity | undefined;
  activitiesIn(conversationId: string): StoredActivity[];
  /** Conversations created through POST /v3/conversations, with their parameters. */
  readonly createdConversations: { id: string; parameters: any }[];
  callsOf(operation: ConnectorOperation): RecordedCall[];
  /** Resolves with the first recorded call (past or future) matching `predicate`. */
  waitForCall(predicate: (call: RecordedCall) => boolean, timeoutMs?: number): Promise<RecordedCall>;
  /** Publishes these signing keys in the JWKS (for JWT tests). */
  setSigningKeys(keys: object[]): void;
  reset(): void;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(text);
}

/** Teams' limit on one message (an activity with its card): larger sends and updates are refused with 413. */
export const TEAMS_MAX_MESSAGE_BYTES = 100 * 1024;

function readBody(req: http.IncomingMessage): Promise<{ body: any; bytes: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString('utf8');
      if (!text) return resolve({ body: undefined, bytes: 0 });
      try {
        resolve({ body: JSON.parse(text), bytes: raw.length });
      } catch {
        resolve({ body: text, bytes: raw.length });
      }
    });
    req.on('error', reject);
  });
}

/** Starts the fake on a random local port. */
export async function startFakeBotConnector(): Promise<FakeBotConnector> {
  const calls: RecordedCall[] = [];
  const members = new Map<string, TeamsMember>();
  const faults = new Map<ConnectorOperation, ScriptedFault[]>();
  const delays = new Map<ConnectorOperation, number[]>();
  const late = new Map<ConnectorOperation, number[]>();
  const lateTimers = new Set<NodeJS.Timeout>();
  const activities = new Map<string, Map<string, StoredActivity>>();
  const createdConversations: { id: string; parameters: any }[] = [];
  const waiters: { predicate: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }[] = [];
  let signingKeys: object[] = [];
  let sequence = 1_700_000_000_000;
  let baseUrl = '';

  function record(call: RecordedCall): void {
    calls.push(call);
    for (const w of [...waiters]) {
      if (w.predicate(call)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
  }

  function store(conversationId: string, id: string, activity: any): StoredActivity {
    let conv = activities.get(conversationId);
    if (!conv) activities.set(conversationId, (conv = new Map()));
    const existing = conv.get(id);
    const version = { ...activity, id, conversation: { ...(activity?.conversation ?? {}), id: conversationId } };
    if (existing) {
      existing.versions.push(version);
      existing.current = version;
      return existing;
    }
    const created = { conversationId, id, versions: [version], current: version };
    conv.set(id, created);
    return created;
  }

  function findMember(userId: string): TeamsMember | undefined {
    const key = userId.toLowerCase();
    return [...members.values()].find(
      (m) => m.id.toLowerCase() === key || m.aadObjectId.toLowerCase() === key || m.userPrincipalName?.toLowerCase() === key || m.email?.toLowerCase() === key,
    );
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
    const method = req.method ?? 'GET';
    const { body, bytes } = await readBody(req);
    const call: RecordedCall = {
      operation: 'unknown', method, path: url.pathname, body, status: 0, at: Date.now(),
      authorization: typeof req.headers.authorization === 'string' ? req.headers.authorization : undefined,
    };

    // OpenID metadata and keys, for inbound JWT validation tests.
    if (parts[0] === 'openid') {
      call.operation = 'openid';
      if (parts[1] === '.well-known') {
        call.status = 200;
        record(call);
        return sendJson(res, 200, {
          issuer: 'https://api.botframework.com',
          authorization_endpoint: 'https://invalid.botframework.com',
          jwks_uri: `${baseUrl}openid/keys`,
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint_auth_methods_supported: ['private_key_jwt'],
        });
      }
      call.status = 200;
      record(call);
      return sendJson(res, 200, { keys: signingKeys });
    }

    if (parts[0] !== 'v3' || parts[1] !== 'conversations') {
      call.status = 404;
      record(call);
      return sendJson(res, 404, { error: { code: 'NotFound', message: `No route ${method} ${url.pathname}` } });
    }

    const conversationId = parts[2];
    const sub = parts[3];
    const itemId = parts[4];
    if (!conversationId && method === 'POST') call.operation = 'createConversation';
    else if (sub === 'activities' && !itemId && method === 'POST') call.operation = 'send';
    else if (sub === 'activities' && itemId && method === 'POST') call.operation = 'reply';
    else if (sub === 'activities' && itemId && method === 'PUT') call.operation = 'update';
    else if (sub === 'members' && itemId && method === 'GET') call.operation = 'getMember';
    call.conversationId = conversationId;
    if (sub === 'activities') call.activityId = itemId;
    if (sub === 'members') call.userId = itemId;

    const lateMs = call.operation !== 'unknown' ? late.get(call.operation)?.shift() : undefined;
    if (lateMs) {
      // Headers and body are buffered until end(): holding end() back delays the whole answer.
      const end = res.end.bind(res) as (...a: unknown[]) => http.ServerResponse;
      res.end = ((...a: unknown[]) => {
        const timer = setTimeout(() => {
          lateTimers.delete(timer);
          if (!res.destroyed) end(...a);
        }, lateMs);
        lateTimers.add(timer);
        return res;
      }) as typeof res.end;
    }
    if (call.operation !== 'unknown') {
      const wait = delays.get(call.operation)?.shift();
      if (wait) await new Promise((r) => setTimeout(r, wait));
      const list = faults.get(call.operation);
      const index = list?.findIndex((f) => !f.bodyIncludes || JSON.stringify(call.body ?? '').includes(f.bodyIncludes)) ?? -1;
      const fault = index >= 0 ? list!.splice(index, 1)[0] : undefined;
      if (fault) {
        call.status = fault.status;
        record(call);
        return sendJson(res, fault.status, fault.body ?? { error: { code: `Http${fault.status}`, message: `Scripted failure ${fault.status}` } }, fault.headers);
      }
    }

    if ((call.operation === 'send' || call.operation === 'reply' || call.operation === 'update') && bytes > TEAMS_MAX_MESSAGE_BYTES) {
      call.status = 413;
      record(call);
      return sendJson(res, 413, { error: { code: 'MessageSizeTooBig', message: `Message size ${bytes} exceeds the limit of ${TEAMS_MAX_MESSAGE_BYTES} bytes` } });
    }

    switch (call.operation) {
      case 'createConversation': {
        const memberId = body?.members?.[0]?.id ?? randomUUID();
        const id = `a:1${Buffer.from(String(memberId)).toString('base64url')}`;
        createdConversations.push({ id, parameters: body });
        let activityId: string | undefined;
        if (body?.activity) {
          activityId = String(++sequence);
          store(id, activityId, body.activity);
        }
        call.status = 201;
        record(call);
        return sendJson(res, 201, { id, activityId, serviceUrl: baseUrl });
      }
      case 'send':
      case 'reply': {
        const id = String(++sequence);
        store(conversationId, id, body);
        call.status = 201;
        record(call);
        return sendJson(res, 201, { id });
      }
      case 'update': {
        const existing = activities.get(conversationId)?.get(itemId);
        if (!existing) {
          call.status = 404;
          record(call);
          return sendJson(res, 404, { error: { code: 'ActivityNotFoundInConversation', message: 'Unknown activityId' } });
        }
        store(conversationId, itemId, body);
        call.status = 200;
        record(call);
        return sendJson(res, 200, { id: itemId });
      }
      case 'getMember': {
        const member = findMember(itemId);
        if (!member) {
          call.status = 404;
          record(call);
          return sendJson(res, 404, { error: { code: 'MemberNotFoundInConversation', message: 'The member is not in the conversation' } });
        }
        call.status = 200;
        record(call);
        return sendJson(res, 200, member);
      }
      default:
        call.status = 404;
        record(call);
        return sendJson(res, 404, { error: { code: 'NotFound', message: `No route ${method} ${url.pathname}` } });
    }
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  return {
    url: baseUrl,
    calls,
    createdConversations,
    addMember(member) {
      members.set(member.id, member);
    },
    failNext(operation, fault, times = 1) {
      const list = faults.get(operation) ?? [];
      for (let i = 0; i < times; i++) list.push(fault);
      faults.set(operation, list);
    },
    answerLateNext(operation, ms, times = 1) {
      const list = late.get(operation) ?? [];
      for (let i = 0; i < times; i++) list.push(ms);
      late.set(operation, list);
    },
    delayNext(operation, ms, times = 1) {
      const list = delays.get(operation) ?? [];
      for (let i = 0; i < times; i++) list.push(ms);
      delays.set(operation, list);
    },
    activity(conversationId, activityId) {
      return activities.get(conversationId)?.get(activityId);
    },
    activitiesIn(conversationId) {
      return [...(activities.get(conversationId)?.values() ?? [])];
    },
    callsOf(operation) {
      return calls.filter((c) => c.operation === operation);
    },
    waitForCall(predicate, timeoutMs = 10_000) {
      const past = calls.find(predicate);
      if (past) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve: (c: RecordedCall) => { clearTimeout(timer); resolve(c); } };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`fake connector: no matching call within ${timeoutMs} ms; calls so far: ${calls.map((c) => `${c.method} ${c.path} ${c.status}`).join(', ')}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    setSigningKeys(keys) {
      signingKeys = keys;
    },
    reset() {
      calls.length = 0;
      faults.clear();
      delays.clear();
      late.clear();
      activities.clear();
      createdConversations.length = 0;
    },
    close() {
      for (const timer of lateTimers) clearTimeout(timer);
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
