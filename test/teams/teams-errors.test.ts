import { toChannelError } from '../../adapters/teams/teams-errors';
import { parseRetryAfter } from '../../src/channels/delivery-failure';
import { ChannelError } from '../../src/ports/chat-channel';

function restError(status: number, headers: Record<string, string> = {}, platform?: { code: string; message: string }) {
  return Object.assign(new Error(platform?.message ?? `status ${status}`), {
    name: 'RestError',
    statusCode: status,
    code: platform?.code,
    details: platform ? { error: platform } : undefined,
    response: { status, headers: { get: (n: string) => headers[n.toLowerCase()] } },
  });
}

describe('Teams connector error classification', () => {
  it('429 is retryable with the Retry-After delay', () => {
    const e = toChannelError(restError(429, { 'retry-after': '7' }), 'postCard');
    expect(e).toBeInstanceOf(ChannelError);
    expect(e).toMatchObject({ code: 'http_429', retryable: true, retryAfterMs: 7000 });
  });

  it('5xx and 408 are retryable; 403 and 404 are permanent and name the platform code', () => {
    expect(toChannelError(restError(503), 'postCard')).toMatchObject({ code: 'http_503', retryable: true });
    expect(toChannelError(restError(502), 'postCard')).toMatchObject({ retryable: true });
    expect(toChannelError(restError(408), 'postCard')).toMatchObject({ retryable: true });
    const forbidden = toChannelError(restError(403, {}, { code: 'BotNotInConversationRoster', message: 'The bot is not part of the conversation roster.' }), 'postCard');
    expect(forbidden).toMatchObject({ code: 'http_403', retryable: false });
    expect(forbidden.message).toContain('BotNotInConversationRoster');
    expect(toChannelError(restError(404, { 'retry-after': '5' }), 'updateCard')).toMatchObject({ code: 'http_404', retryable: false, retryAfterMs: undefined });
  });

  it('network failures are retryable; unknown failures are retried too (the one rule for every channel)', () => {
    expect(toChannelError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', name: 'RestError' }), 'postCard')).toMatchObject({ code: 'network_error', retryable: true });
    expect(toChannelError(Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' }), 'postCard')).toMatchObject({ retryable: true });
    expect(toChannelError(Object.assign(new Error('AADSTS7000215: Invalid client secret provided.'), { errorCode: 'invalid_client' }), 'postCard')).toMatchObject({ code: 'auth_failed', retryable: false });
    expect(toChannelError(new TypeError('x is undefined'), 'postCard')).toMatchObject({ code: 'unexpected_error', retryable: true });
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('2026-11-21T10:00:00Z');
    expect(parseRetryAfter('Sat, 21 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
