/**
 * The port every chat platform implements. The core owns what to send and when (delivery rows, retries, audit events,
 * never posting twice); an adapter only knows how to render an {@link ApprovalView} and talk to its platform.
 */
import type { ApprovalView } from '../domain/approval-view';
import type { PersonIdentity } from '../domain/identity';

/** The kind of a chat platform, as policy targets name it (`slack`, `teams`, …). */
export type ChannelKind = string;

/** Where a posted card lives, as the adapter needs it to update the card later. Stored in Postgres as JSON. */
export type MessageRef = Record<string, unknown>;

export interface ChatChannel {
  readonly kind: ChannelKind;

  /**
   * Posts the approval card to `destination` (the part after `slack:` / `teams:` in the policy's channel list).
   * @returns the reference needed to update that message later.
   * @throws {@link ChannelError} with `retryable` set for throttling and transient faults.
   */
  postCard(destination: string, view: ApprovalView): Promise<MessageRef>;

  /**
   * Looks for the card of `view`'s request already posted to `destination` (by an earlier attempt whose answer was
   * lost: a timeout, a reset connection, a crash or a database outage before the reference was stored). The delivery
   * service asks before every re-post, so a card is posted at most once per target. Optional: a platform that cannot
   * look up its messages re-posts after an ambiguous failure.
   * @returns the reference of the card found, or `null` when the destination holds none for this request.
   * @throws {@link ChannelError} when the platform could not answer (retryable: try again later; permanent: the lookup is
   *   impossible, e.g. a missing scope, and the caller posts).
   */
  findCard?(destination: string, view: ApprovalView): Promise<MessageRef | null>;

  /**
   * Replaces a posted card in place for everyone who sees it (progress after a vote; outcome with no buttons once final).
   * @throws {@link ChannelError}
   */
  updateCard(ref: MessageRef, view: ApprovalView): Promise<void>;

  /**
   * Reminds the approvers of a pending request whose card is at `ref` (a rule's `remind`): a threaded reply where the
   * platform threads, else a new message in the card's conversation. Optional: a platform without it is skipped.
   * @returns the reference of the message sent.
   * @throws {@link ChannelError}
   */
  remind?(ref: MessageRef, view: ApprovalView): Promise<MessageRef>;
  /**
   * Tells a person the outcome of their request in a direct/personal chat.
   * @returns a reference to the message sent, or `null` when this platform does not know the person (nothing sent).
   * @throws {@link ChannelError}
   */
  notify(person: PersonIdentity, view: ApprovalView): Promise<MessageRef | null>;

  /** Releases connections (Socket Mode websockets, HTTP agents). */
  close?(): Promise<void>;
}

/**
 * A failed platform call, classified so the delivery worker can decide: retry later (`retryable`, honouring
 * `retryAfterMs` when the platform said how long), or record a permanent failure in the audit trail.
 */
export class ChannelError extends Error {
  constructor(
    /** Stable code, e.g. the platform's (`channel_not_found`, `ratelimited`) or `http_503`. */
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

/** Splits a policy target such as `teams:19:abc@thread.tacv2` into its kind and destination. */
export function parseTarget(target: string): { kind: string; destination: string } {
  const i = target.indexOf(':');
  return { kind: target.slice(0, i), destination: target.slice(i + 1) };
}
