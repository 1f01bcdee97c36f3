/**
 * Whether a chat channel can do its work, as readiness (/readyz) reports it: a channel that cannot connect (Slack
 * Socket Mode down) or whose credentials the platform rejects (a revoked bot token, a wrong app password) delivers no
 * card and receives no click, so the node must not claim to be ready. Both adapters keep their state with this one
 * tracker, so they judge the same failures the same way and say so in the same words.
 */
import { ChannelError, type ChatChannel } from '../ports/chat-channel';
import { asChannelError } from './delivery-failure';

/** A channel's readiness: `reason` names what is wrong, for the operator reading /readyz. */
export type ChannelHealth = { ok: true } | { ok: false; reason: string };

/**
 * Failure codes meaning "the platform refused our credentials": no retry helps until someone fixes the token or the
 * app registration. Slack's own codes, the kit's `auth_failed` (no Bot Framework token) and an HTTP 401.
 */
const CREDENTIAL_REJECTED = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'auth_failed', 'http_401']);

/** Whether a failed platform call says the channel's credentials were rejected. */
export function isCredentialRejection(err: unknown): boolean {
  return err instanceof ChannelError && CREDENTIAL_REJECTED.has(err.code);
}

export interface ChannelHealthTracker {
  /** The channel's readiness now. */
  health(): ChannelHealth;
  /** A long-lived connection's state: `up`, or down with why. Channels without one never call it. */
  connection(state: { up: true } | { up: false; reason: string }): void;
  /** The outcome of a platform call: a credential rejection marks the channel unhealthy until a later call succeeds. */
  observe(outcome: { ok: true } | { ok: false; error: unknown }): void;
  /** `channel` with every call's outcome observed. */
  watch(channel: ChatChannel): ChatChannel;
}

/** A tracker for one channel; `connected` is the state before any report (false for a connection not yet opened). */
export function createChannelHealthTracker(opts: { connected?: { up: true } | { up: false; reason: string } } = {}): ChannelHealthTracker {
  let connection = opts.connected ?? { up: true as const };
  let rejected: string | undefined;

  const tracker: ChannelHealthTracker = {
    health() {
      if (!connection.up) return { ok: false, reason: connection.reason };
      if (rejected) return { ok: false, reason: `credentials rejected by the platform (${rejected})` };
      return { ok: true };
    },
    connection(state) {
      connection = state;
      // A connection the platform just accepted proves the credentials it was opened with.
      if (state.up) rejected = undefined;
    },
    observe(outcome) {
      if (outcome.ok) rejected = undefined;
      else if (isCredentialRejection(outcome.error)) rejected = (outcome.error as ChannelError).message;
    },
    watch(channel) {
      const observed =
        <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
        async (...args: A): Promise<R> => {
          try {
            const result = await call(...args);
            tracker.observe({ ok: true });
            return result;
          } catch (error) {
            tracker.observe({ ok: false, error: asChannelError(error) });
            throw error;
          }
        };
      return {
        kind: channel.kind,
        postCard: observed(channel.postCard.bind(channel)),
        updateCard: observed(channel.updateCard.bind(channel)),
        notify: observed(channel.notify.bind(channel)),
        // Every optional method of the port passes through, or a wrapped channel would silently lose it.
        ...(channel.findCard ? { findCard: observed(channel.findCard.bind(channel)) } : {}),
        ...(channel.remind ? { remind: observed(channel.remind.bind(channel)) } : {}),
        ...(channel.close ? { close: channel.close.bind(channel) } : {}),
      };
    },
  };
  return tracker;
}
