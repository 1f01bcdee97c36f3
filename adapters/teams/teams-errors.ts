/**
 * Classifies failures of Bot Connector calls for the core's delivery worker: throttling and transient faults are
 * retryable (with the service's Retry-After when it gave one), everything else is permanent and ends up as a failed
 * delivery in the audit trail. The adapter itself never retries.
 */
import { ChannelError } from '../../src/ports/chat-channel';

/** What botbuilder's ConnectorClient throws (an @azure/core-rest-pipeline RestError), as far as we read it. */
interface ConnectorFailure {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { error?: { code?: string; message?: string } };
  response?: { status?: number; headers?: { get(name: string): string | undefined } };
  errorCode?: string;
}

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH',
  'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'REQUEST_SEND_ERROR',
]);

/** Retry-After is seconds or an HTTP date. Returns milliseconds, or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Turns anything a connector call threw into a {@link ChannelError}: `http_<status>` for HTTP answers (429, 408 and
 * 5xx retryable; other 4xx such as 403 BotNotInConversationRoster or 404 permanent), `network_error` (retryable) when
 * the service could not be reached, `auth_failed` (permanent) when the bot's own token could not be obtained.
 */
export function toChannelError(err: unknown, operation: string): ChannelError {
  if (err instanceof ChannelError) return err;
  const e = (err ?? {}) as ConnectorFailure;
  const status = e.statusCode ?? e.response?.status;
  if (typeof status === 'number' && status >= 400) {
    const platform = e.details?.error;
    const detail = platform?.code ? `${platform.code}: ${platform.message ?? ''}`.trim() : e.message ?? '';
    const retryAfterMs = parseRetryAfter(e.response?.headers?.get('retry-after'));
    return new ChannelError(
      `http_${status}`,
      `Teams connector answered ${status} to ${operation}${detail ? ` (${detail})` : ''}`,
      isRetryableStatus(status),
      isRetryableStatus(status) ? retryAfterMs : undefined,
    );
  }
  const code = e.code ?? '';
  if (TRANSIENT_NETWORK_CODES.has(code) || e.name === 'AbortError' || e.name === 'TimeoutError' || /socket hang up|timed? ?out/i.test(e.message ?? '')) {
    return new ChannelError('network_error', `Could not reach the Teams connector for ${operation}: ${code || e.name || ''} ${e.message ?? ''}`.trim(), true);
  }
  // MSAL failures while getting the bot's token: a network blip is worth retrying, bad credentials are not.
  if (e.errorCode) {
    const transient = /network|timeout|unreachable/i.test(`${e.errorCode} ${e.message ?? ''}`);
    return new ChannelError(transient ? 'network_error' : 'auth_failed', `Could not obtain a Bot Framework token for ${operation}: ${e.errorCode}`, transient);
  }
  return new ChannelError('unexpected', `Teams ${operation} failed: ${e.message ?? String(err)}`, false);
}
