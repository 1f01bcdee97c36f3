/**
 * One rule for what a failed delivery does next, shared by every outbound channel (Slack, Teams, the result
 * callback): retry later (throttling, server trouble, network faults, anything unexpected), honouring the server's
 * Retry-After, or record a permanent failure (the request or the installation is at fault, so repeating cannot help).
 * Attempts are bounded by the delivery worker, so "retry on the unexpected" never loops forever.
 */
import { ChannelError } from '../ports/chat-channel';

/** 408 (timeout), 429 (slow down) and 5xx (server trouble) are worth another try; other 4xx will fail again. */
export function isRetryableHttpStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Retry-After is seconds or an HTTP date. Returns milliseconds, or undefined when absent or unreadable. */
export function parseRetryAfter(value: string | number | undefined | null, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Slack's documented default wait when a throttled answer carries no usable Retry-After; used for any platform. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 30_000;

/** A failed HTTP answer from a platform: `http_<status>`, retryable per {@link isRetryableHttpStatus}. */
export function httpFailure(status: number, message: string, retryAfter?: string | number | null): ChannelError {
  const retryable = isRetryableHttpStatus(status);
  return new ChannelError(`http_${status}`, message, retryable, retryable ? parseRetryAfter(retryAfter) : undefined);
}

/** The platform could not be reached (refused, reset, timed out): always worth another try. */
export function networkFailure(message: string): ChannelError {
  return new ChannelError('network_error', message, true);
}

/** Anything a channel did not expect: retried a bounded number of times rather than dropped on the first try. */
export function unexpectedFailure(message: string): ChannelError {
  return new ChannelError('unexpected_error', message, true);
}

/** Any error as a classified {@link ChannelError} (an unclassified error counts as unexpected). */
export function asChannelError(err: unknown): ChannelError {
  return err instanceof ChannelError ? err : unexpectedFailure((err as Error)?.message ?? String(err));
}
