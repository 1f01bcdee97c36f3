/**
 * What the request services ask of the queues. Every call is idempotent (BullMQ job ids derived from the request),
 * and none is load-bearing for correctness: Postgres records what is owed and the reconciler re-enqueues it, so a
 * call that fails after a commit is logged, not retried inline.
 */
export interface JobQueue {
  /** A request now waits for approvers: post its cards and arm its expiry timer. */
  requestOpened(request: { id: string; targets: string[]; expiresAt: Date }): Promise<void>;
  /**
   * Something a card shows changed (a vote, a transition). Fans out card updates and, once the request is final,
   * the requester notification and the result callback. `version` distinguishes successive changes.
   */
  requestChanged(requestId: string, version: string): Promise<void>;
  /**
   * Arms the timer that warns the requester of a pending request before it expires (`warnBeforeExpiry`), due at `at`
   * (now when already past). Job id `warn.<request id>`: arming twice is harmless.
   */
  expiryWarningDue(requestId: string, at: Date): Promise<void>;
  /** Arms the escalation of a pending request (a rule's `escalate`), due at `at`. Job id `escalate.<id>`. */
  escalationDue(requestId: string, at: Date): Promise<void>;
  /** Arms reminder `index` of a pending request (a rule's `remind`), due at `at`. Job id `remind.<id>.<index>`. */
  reminderDue(requestId: string, index: number, at: Date): Promise<void>;
  /** Sends reminder `index` under the card posted to `target`, now. Job id `remind.<id>.<target>.<index>`. */
  remindApprovers(requestId: string, target: string, index: number): Promise<void>;
  /** False while the queue's Redis connection is down: intake answers 503 rather than accept work it cannot schedule. */
  isAvailable(): boolean;
}

/** The kinds of debt the reconciler re-drives (label of `countersign_reconciler_redrives_total`). */
export type RedriveKind = 'card' | 'update' | 'notify' | 'callback';

/** What one change of a request owes: updates of its posted cards and, once final, the notification and callback. */
export interface ChangeDebts {
  cardTargets: string[];
  notify: boolean;
  callback: boolean;
  /** The state version the updates render (distinguishes successive changes). */
  version: string;
}

/**
 * What the reconciler asks of the queues: that every debt PostgreSQL records has a live job. A debt whose job is
 * live (waiting, delayed, running) is left alone; one whose job finished (failed after its attempts, or completed
 * while the debt stayed owed) or vanished (Redis lost it) gets a fresh job under the same deterministic id, so there
 * is never more than one live job per debt, on any number of nodes.
 */
export interface DeliveryRedrive {
  /**
   * The unsettled cards of a request, and the expiry timer of a pending one (`expiresAt` null: decided, no timer).
   * Resolves with the kinds it had to enqueue again.
   */
  cards(request: { id: string; targets: string[]; expiresAt: Date | null }): Promise<RedriveKind[]>;
  /** What a change owes. Resolves with the kinds it had to enqueue again. */
  changes(requestId: string, debts: ChangeDebts): Promise<RedriveKind[]>;
}

/** A subscription to one request's changes, taken BEFORE the request is read so that no change can slip between. */
export interface RequestWatch {
  /** Resolves at the first change after the watch began, or after `timeoutMs`; never rejects. True when it changed. */
  changed(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** Releases the watch (idempotent). */
  close(): void;
}

/** Wakes long-polling readers (`GET /v1/requests/:id?wait=`) on any node when a request changes. */
export interface RequestEvents {
  publishChanged(requestId: string, status: string): Promise<void>;
  /** Starts watching a request; a change published from now on (on any node) resolves `changed`. */
  watch(requestId: string): RequestWatch;
  /**
   * Calls `listener` with the id of every request that changes (or opens) from now on, on any node, until the returned
   * function is called (the web console's live inbox). At-most-once, like every notification here.
   */
  watchAll(listener: (requestId: string) => void): () => void;
}

/**
 * Raised by a queue implementation when its broker (Redis) cannot take the command: the caller answers 503 or leaves
 * the work to the reconciler, never treats it as a bug.
 */
export class QueueUnavailableError extends Error {
  constructor(override readonly cause: unknown) {
    super(`The job queue is unavailable: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'QueueUnavailableError';
  }
}
