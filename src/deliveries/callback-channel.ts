/**
 * The result callback, an outbound channel beside the Slack and Teams ones: once a request is final, its outcome is
 * POSTed to the `callbackUrl` the agent gave, signed so the receiver can check it came from this service. Like the
 * chat channels it only sends and classifies failures; the delivery service owns rows, retries and the audit trail.
 */
import { createHmac } from 'node:crypto';
import { httpFailure, networkFailure } from '../channels/delivery-failure';
import type { RequestDetail } from '../services/request-query-service';

export interface CallbackChannel {
  /** Whether callbacks can be signed (CALLBACK_SIGNING_SECRET is set); unsigned callbacks are never sent. */
  readonly enabled: boolean;
  /**
   * POSTs `request.decided` to the request's callback URL.
   * @throws ChannelError classified by the shared delivery-failure rule (`http_<status>`, `network_error`).
   */
  send(request: RequestDetail & { callbackUrl: string }): Promise<void>;
}

/** The body a receiver gets: the decision and who made it, never the request's context. */
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
    },
  });
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the scheme Stripe and Slack receivers know. */
export function signCallback(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`;
}

export function createCallbackChannel(deps: { secret?: string; timeoutMs: number; clock?: () => Date; fetch?: typeof fetch }): CallbackChannel {
  const clock = deps.clock ?? (() => new Date());
  const doFetch = deps.fetch ?? fetch;
  return {
    enabled: Boolean(deps.secret),
    async send(detail) {
      if (!deps.secret) throw new Error('callbacks are disabled: CALLBACK_SIGNING_SECRET is not set');
      const body = callbackBody(detail);
      let res: Response;
      try {
        res = await doFetch(detail.callbackUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'countersign-signature': signCallback(deps.secret, body, Math.floor(clock().getTime() / 1000)),
            'countersign-request-id': detail.id,
          },
          body,
          signal: AbortSignal.timeout(deps.timeoutMs),
          // A redirect could send the signed outcome somewhere the agent did not name.
          redirect: 'manual',
        });
      } catch (err) {
        throw networkFailure(`callback could not be delivered: ${(err as Error)?.name === 'TimeoutError' ? 'timed out' : (err as Error)?.message ?? String(err)}`);
      }
      // The answer's body is not ours to keep; release the socket (a failure to discard means it is already gone).
      await res.body?.cancel().catch(() => undefined);
      if (!res.ok) throw httpFailure(res.status, `callback answered HTTP ${res.status}`, res.headers.get('retry-after'));
    },
  };
}
