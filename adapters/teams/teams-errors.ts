/**
 * Turns Bot Connector failures into {@link ChannelError}s for the core's delivery worker, which owns retries and the
 * audit trail. What is retried, and how Retry-After is read, is the chat kit's one rule (src/channels/delivery-failure);
 * this file only knows how botbuilder reports a failure. The adapter itself never retries.
 */
import { httpFailure, networkFailure, unexpectedFailure } from '../../src/channels/delivery-failure';
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

/**
 * Turns anything a connector call threw into a {@link ChannelError}: `http_<status>` for HTTP answers (e.g. 403
 * BotNotInConversationRoster, named in the message), `network_error` when the service could not be reached,
 * `auth_failed` (permanent) when the bot's own token could not be obtained, `unexpected_error` for anything else.
 */
export function toChannelError(err: unknown, operation: string): ChannelError {
  if (err instanceof ChannelError) return err;
  const e = (err ?? {}) as ConnectorFailure;
  const status = e.statusCode ?? e.response?.status;
  if (typeof status === 'number' && status >= 400) {
    const platform = e.details?.error;
    const detail = platform?.code ? `${platform.code}: ${platform.message ?? ''}`.trim() : e.message ?? '';
    return httpFailure(status, `Teams connector answered ${status} to ${operation}${detail ? ` (${detail})` : ''}`, e.response?.headers?.get('retry-after'));
  }
  const code = e.code ?? '';
  if (TRANSIENT_NETWORK_CODES.has(code) || e.name === 'AbortError' || e.name === 'TimeoutError' || /socket hang up|timed? ?out/i.test(e.message ?? '')) {
    return networkFailure(`Could not reach the Teams connector for ${operation}: ${code || e.name || ''} ${e.message ?? ''}`.trim());
  }
  // MSAL failures while getting the bot's token: a network blip is worth retrying, bad credentials are not.
  if (e.errorCode) {
    const transient = /network|timeout|unreachable/i.test(`${e.errorCode} ${e.message ?? ''}`);
    const message = `Could not obtain a Bot Framework token for ${operation}: ${e.errorCode}`;
    return transient ? networkFailure(message) : new ChannelError('auth_failed', message, false);
  }
  return unexpectedFailure(`Teams ${operation} failed: ${e.message ?? String(err)}`);
}
