/**
 * Turns Slack Web API failures into {@link ChannelError}s for the core's delivery worker, which owns retries and the
 * audit trail. What is retried, and how Retry-After is read, is the chat kit's one rule (src/channels/delivery-failure);
 * this file only knows how Slack reports a failure and which of Slack's own error codes are transient.
 */
import { ErrorCode, type WebAPICallError } from '@slack/web-api';
import { DEFAULT_RATE_LIMIT_WAIT_MS, httpFailure, networkFailure, parseRetryAfter, unexpectedFailure } from '../../src/channels/delivery-failure';
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
      const ms = parseRetryAfter((e as { retryAfter?: number }).retryAfter) ?? DEFAULT_RATE_LIMIT_WAIT_MS;
      return new ChannelError('ratelimited', `Slack ${method}: rate limited, retry after ${ms / 1000}s`, true, ms);
    }
    case ErrorCode.PlatformError: {
      const data = (e as { data?: { error?: string; response_metadata?: { retryAfter?: number } } }).data;
      const code = data?.error ?? 'unknown_error';
      const retryable = TRANSIENT_PLATFORM_ERRORS.has(code);
      return new ChannelError(code, `Slack ${method}: ${code}`, retryable, retryable ? parseRetryAfter(data?.response_metadata?.retryAfter) : undefined);
    }
    case ErrorCode.HTTPError: {
      const status = (e as { statusCode?: number }).statusCode ?? 0;
      const headers = (e as { headers?: Record<string, string> }).headers ?? {};
      return httpFailure(status, `Slack ${method}: HTTP ${status}`, headers['retry-after']);
    }
    case ErrorCode.RequestError: {
      const original = (e as { original?: { message?: string; name?: string } }).original;
      const detail = original?.name === 'TimeoutError' || original?.name === 'AbortError' ? 'timed out' : original?.message ?? 'network error';
      return networkFailure(`Slack ${method}: ${detail}`);
    }
    default:
      // A 429 without a readable Retry-After surfaces as a plain Error from the SDK.
      if (/rate limit/i.test(e?.message ?? '')) {
        return new ChannelError('ratelimited', `Slack ${method}: rate limited`, true, DEFAULT_RATE_LIMIT_WAIT_MS);
      }
      return unexpectedFailure(`Slack ${method}: ${e?.message ?? String(err)}`);
  }
}
