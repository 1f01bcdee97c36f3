/**
 * The result callback, an outbound channel beside the Slack and Teams ones: once a request is final, its outcome is
 * POSTed to the `callbackUrl` the agent gave, signed so the receiver can check it came from this service. Like the
 * chat channels it only sends and classifies failures; the delivery service owns rows, retries and the audit trail.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { httpFailure, networkFailure } from '../channels/delivery-failure';
import { ChannelError } from '../ports/chat-channel';
import type { RequestDetail } from '../services/request-query-service';
import type { GrantAuthority } from '../evidence/grants';
import type { CallbackHostPolicy } from './callback-guard';

export interface CallbackChannel {
  /**
   * POSTs `request.decided` to the request's callback URL, through the host policy (`keyHosts`: the submitting key's
   * own allowed callback hosts).
   * @throws ChannelError classified by the shared delivery-failure rule (`http_<status>`, `network_error`), or
   *   `callback_host_refused` (permanent) when the host or the address it resolves to is not allowed.
   */
  send(request: RequestDetail & { callbackUrl: string }, keyHosts: readonly string[]): Promise<void>;
}

/** The answer of one POST: its status and Retry-After. */
interface PostAnswer {
  status: number;
  retryAfter?: string;
}

/**
 * One POST over node:http(s) rather than fetch: only node's request takes a `lookup` hook, which is where the resolved
 * address is checked (Node's bundled fetch offers no such hook without a separate undici dependency).
 */
function post(url: URL, headers: Record<string, string>, body: string, lookup: import('node:net').LookupFunction, timeoutMs: number): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, lookup, timeout: timeoutMs }, (res) => {
      // The answer's body is not ours to keep; drain it so the socket is released.
      res.resume();
      const retryAfter = res.headers['retry-after'];
      resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { name: 'TimeoutError' })));
    req.on('error', reject);
    req.end(body);
  });
}

/** The body a receiver gets: the decision, who made it and the grant when approved, never the request's context. */
export function callbackBody(detail: RequestDetail): string {
  return JSON.stringify({
    event: 'request.decided',
    request: {
      id: detail.id,
      status: detail.status,
      action: detail.action,
      resource: detail.resource,
      decidedAt: detail.decidedAt,
      decidedBy: detail.decidedBy,
      reason: detail.decisionReason,
      votes: detail.votes,
      policy: { rule: detail.policy.rule },
      grant: detail.grant,
    },
  });
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the scheme Stripe and Slack receivers know. */
export function signCallback(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

export function createCallbackChannel(deps: {
  /** Optional shared HMAC secret, for receivers set up before callbacks were signed with the service key. */
  secret?: string;
  /** Signs each body with the service's key (a detached JWS receivers verify against /.well-known/jwks.json). */
  signer: Pick<GrantAuthority, 'signDetached'>;
  timeoutMs: number;
  hosts: CallbackHostPolicy;
  clock?: () => Date;
  /** Trace context headers (W3C `traceparent`) of the span the callback is sent in, so the receiver may continue the trace. */
  traceHeaders?: () => Record<string, string>;
}): CallbackChannel {
  const clock = deps.clock ?? (() => new Date());
  return {
    async send(detail, keyHosts) {
      // Checked again at send time: literal addresses never reach the lookup hook, and the allow-list may have changed.
      const checked = deps.hosts.check(detail.callbackUrl, keyHosts);
      if ('problem' in checked) throw new ChannelError('callback_host_refused', `callback refused: ${checked.problem}`, false);
      const body = callbackBody(detail);
      // A signature only the service can make: one receiver cannot forge a callback to another (a shared HMAC could).
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'countersign-jws': await deps.signer.signDetached(body),
        'countersign-request-id': detail.id,
        ...deps.traceHeaders?.(),
      };
      if (deps.secret) headers['countersign-signature'] = signCallback(deps.secret, body, Math.floor(clock().getTime() / 1000));
      let answer: PostAnswer;
      try {
        // No redirects are followed: a redirect could send the signed outcome somewhere the agent did not name.
        answer = await post(checked.target.url, headers, body, deps.hosts.lookupFor(checked.target), deps.timeoutMs);
      } catch (err) {
        const e = err as Error & { code?: string };
        if (e.code === 'ECALLBACKREFUSED') throw new ChannelError('callback_host_refused', `callback refused: ${e.message}`, false);
        throw networkFailure(`callback could not be delivered: ${e.name === 'TimeoutError' ? 'timed out' : e.message}`);
      }
      if (answer.status < 200 || answer.status >= 300) throw httpFailure(answer.status, `callback answered HTTP ${answer.status}`, answer.retryAfter);
    },
  };
}
