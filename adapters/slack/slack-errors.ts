/**
 * Turns Slack Web API failures into {@link ChannelError}s. The delivery worker owns retries and the audit trail; it
 * only needs to know whether trying again can help and, for throttling, how long Slack asked it to wait.
 */
import { ErrorCode, type WebAPICallError } from '@slack/web-api';
import { ChannelError } from '../../src/ports/chat-channel';

/**
 * Platform error codes that are worth retrying: Slack's own transient faults. Every other `ok: false` answer
 * (channel_not_found, not_in_channel, is_archived, invalid_auth, missing_scope, invalid_blocks…) describes the request
 * or the installation, so repeating the call cannot succeed until a human fixes something.
 */
const TRANSIENT_PLATFORM_ERRORS = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'timeout',
  'team_added_to_org',
]);

/** Slack's documented default when a throttled answer carries no usable Retry-After. */
const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;

/**
 * Classifies anything a WebClient call threw.
 * @param err the rejection of a `@slack/web-api` call (or any other error on the way)
 * @param method the API method, named in the message for the audit trail
 */
export function toChannelError(err: unknown, method: string): ChannelError {
  if (err instanceof ChannelError) return err;
  const e = err as Partial<WebAPICallError> & { message?: string };
  switch (e?.code) {
    case ErrorCode.RateLimitedError: {
      const seconds = (e as { retryAfter?: number }).retryAfter;
      const ms = typeof seconds === 'number' && seconds >= 0 ? seconds * 1000 : DEFAULT_RATE_LIMIT_WAIT_MS;
      return new ChannelError('ratelimited', `Slack ${method}: rate limited, retry after ${ms / 1000}s`, true, ms);
    }
    case ErrorCode.PlatformError: {
      const data = (e as { data?: { error?: string; response_metadata?: { retryAfter?: number } } }).data;
      const code = data?.error ?? 'unknown_error';
      const retryable = TRANSIENT_PLATFORM_ERRORS.has(code);
      const retryAfter = data?.response_metadata?.retryAfter;
      return new ChannelError(code, `Slack ${method}: ${code}`, retryable, retryable && typeof retryAfter === 'number' ? retryAfter * 1000 : undefined);
    }
    case ErrorCode.HTTPError: {
      const status = (e as { statusCode?: number }).statusCode ?? 0;
      const headers = (e as { headers?: Record<string, string> }).headers ?? {};
      const retryAfter = Number.parseInt(headers['retry-after'] ?? '', 10);
      // 5xx, 408 and 429 are the server's trouble or a request to slow down; other 4xx will fail again.
      const retryable = status >= 500 || status === 408 || status === 429;
      return new ChannelError(`http_${status}`, `Slack ${method}: HTTP ${status}`, retryable, Number.isNaN(retryAfter) ? undefined : retryAfter * 1000);
    }
    case ErrorCode.RequestError: {
      const original = (e as { original?: { message?: string; name?: string } }).original;
      const detail = original?.name === 'TimeoutError' || original?.name === 'AbortError' ? 'timed out' : original?.message ?? 'network error';
      return new ChannelError('network_error', `Slack ${method}: ${detail}`, true);
    }
    default:
      // A 429 without a readable Retry-After surfaces as a plain Error from the SDK; anything else unexpected is
      // retried a bounded number of times by the worker rather than dropped on the first try.
      if (/rate limit/i.test(e?.message ?? '')) {
        return new ChannelError('ratelimited', `Slack ${method}: rate limited`, true, DEFAULT_RATE_LIMIT_WAIT_MS);
      }
      return new ChannelError('unexpected_error', `Slack ${method}: ${e?.message ?? String(err)}`, true);
  }
}
