/**
 * What a request owes the outside world, and the one place that decides how each debt is paid: approval cards, card
 * updates and the requester's notification through the chat channels, and the result callback through its own
 * channel. A delivery row guards every send (a card is never posted twice for a target), audit events record each
 * result, and failures follow the shared delivery-failure rule. Called by the delivery worker, outside any
 * transaction (these are network calls).
 *
 * Only a permanent failure settles a row as `failed` (with its audit event): a transient one (throttling, an outage,
 * a timeout) leaves the row pending with its last error and is thrown back to the worker, and once the job's attempts
 * run out the reconciler re-drives the debt from PostgreSQL. An attempt whose outcome is unknown (a timeout after the
 * platform may have posted, a crash, a database outage before the reference was stored) is followed by a look-up of
 * the card already posted before anything is posted again.
 */
import type pino from 'pino';
import { asChannelError } from '../channels/delivery-failure';
import { SYSTEM_ACTOR } from '../domain/audit-event';
import type { ApprovalView } from '../domain/approval-view';
import type { PersonIdentity } from '../domain/identity';
import { isFinal, stateVersion } from '../domain/request-lifecycle';
import type { ChangeDebts } from '../ports/job-queue';
import { parseTarget, type ChannelKind, type ChatChannel, type MessageRef } from '../ports/chat-channel';
import type { AuditService } from '../services/audit-service';
import type { RequestQueryService } from '../services/request-query-service';
import type { DeliveryKind, DeliveryStore } from '../store/delivery-store';
import type { RequestStore } from '../store/request-store';
import type { CallbackChannel } from './callback-channel';

/** Thrown for a failure worth another attempt; the worker's backoff honours `retryAfterMs`. */
export class RetryableDeliveryError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'RetryableDeliveryError';
  }
}

export type DeliveryOutcome = 'delivered' | 'skipped' | 'failed' | 'already_done';

/** The channels a delivery can go through, by the kind a policy target names. */
export type ChatChannels = ReadonlyMap<ChannelKind, ChatChannel>;

/** What a change owes (the same shape the queues fan out). */
export type DeliveryPlan = ChangeDebts;

/**
 * Each method pays one debt. A transient failure throws {@link RetryableDeliveryError} (the row stays pending and is
 * paid later); a permanent one settles the row as failed and resolves `failed`.
 */
export interface DeliveryService {
  postCard(requestId: string, target: string): Promise<DeliveryOutcome>;
  updateCard(requestId: string, target: string): Promise<DeliveryOutcome>;
  notifyRequester(requestId: string): Promise<DeliveryOutcome>;
  /** Reminder `index` (a rule's `remind`) under the card posted to `target`, once, while the request is pending. */
  remindApprovers(requestId: string, target: string, index: number): Promise<DeliveryOutcome>;
  sendCallback(requestId: string): Promise<DeliveryOutcome>;
  /** What a change owes: updates for every posted card, and once final, the notification and callback. */
  plan(requestId: string): Promise<DeliveryPlan>;
  /**
   * The part of {@link plan} still unpaid according to the delivery rows: cards not showing the current state (nor
   * given up on it), notifications and the callback not yet settled. What the reconciler re-drives.
   */
  unpaid(requestId: string): Promise<DeliveryPlan>;
}

/**
 * A memo of message references (cards, requester notifications) taken the moment a platform answers, outside
 * PostgreSQL: when the delivery row cannot be settled (a database outage, a crash between the answer and the commit),
 * the next attempt adopts the message from here instead of sending it again. It works for every platform, Teams
 * included, which offers bots no look-up of messages. Keyed by request and delivery target.
 */
export interface PostedMessages {
  remember(requestId: string, target: string, ref: MessageRef): Promise<void>;
  /** The reference remembered for this message, or null. */
  recall(requestId: string, target: string): Promise<MessageRef | null>;
}

export interface DeliveryServiceDeps {
  deliveries: DeliveryStore;
  requests: Pick<RequestStore, 'changeSummary'>;
  queries: Pick<RequestQueryService, 'view' | 'get'>;
  audit: Pick<AuditService, 'append'>;
  channels: ChatChannels;
  /** Optional: without it, only the platforms' own look-up ({@link ChatChannel.findCard}) avoids a second post. */
  postedMessages?: PostedMessages;
  callback: CallbackChannel;
  /** The callback hosts the submitting key (by name) may reach on top of the global list. */
  callbackHostsOf: (apiKeyName: string) => Promise<string[]>;
  log: pino.Logger;
  clock?: () => Date;
}

/**
 * The rendered version recorded for a card adopted from an earlier attempt: what it shows is not known (it was rendered
 * from the state of that attempt), so no state version matches it and the next update renders the current state.
 */
const UNKNOWN_RENDER = 'unknown';

/** How many times an update re-renders when the state moved while the previous render was in flight. */
const UPDATE_ROUNDS = 3;

export function createDeliveryService(deps: DeliveryServiceDeps): DeliveryService {
  const clock = deps.clock ?? (() => new Date());
  const ctx: Ctx = { ...deps, now: clock, ledger: createDeliveryLedger(deps, clock) };

  async function plan(requestId: string): Promise<DeliveryPlan> {
    const r = await deps.requests.changeSummary(requestId);
    if (!r) return { cardTargets: [], notify: false, callback: false, version: 'missing' };
    const final = isFinal(r.status);
    return {
      cardTargets: r.postedCardTargets,
      // People decided it (a standing approval decides at intake, like a routine rule: nobody is notified).
      notify: final && r.policyOutcome === 'require' && !r.byStandingApproval && deps.channels.size > 0,
      callback: final && Boolean(r.callbackUrl),
      version: stateVersion(r.status, r.voteCount),
    };
  }

  return {
    plan,
    async unpaid(requestId) {
      const [full, rows] = await Promise.all([plan(requestId), deps.deliveries.list(requestId)]);
      const settled = (kind: DeliveryKind, target: string) => rows.some((d) => d.kind === kind && d.target === target && d.status !== 'pending');
      const cards = new Map(rows.filter((d) => d.kind === 'card').map((d) => [d.target, d.messageRef]));
      return {
        version: full.version,
        cardTargets: full.cardTargets.filter((t) => cards.get(t)?.renderedVersion !== full.version && cards.get(t)?.abandonedVersion !== full.version),
        notify: full.notify && [...deps.channels.keys()].some((kind) => !settled('notify', `requester:${kind}`)),
        callback: full.callback && !settled('callback', 'callback'),
      };
    },
    postCard: (requestId, target) => postCard(ctx, requestId, target),
    updateCard: (requestId, target) => updateCard(ctx, requestId, target),
    notifyRequester: (requestId) => notifyRequester(ctx, requestId),
    remindApprovers: (requestId, target, index) => remindApprovers(ctx, requestId, target, index),
    sendCallback: (requestId) => sendCallback(ctx, requestId),
  };
}

/** Settling rows and recording each result in the audit trail: the bookkeeping every kind of delivery shares. */
interface DeliveryLedger {
  settle(requestId: string, kind: DeliveryKind, target: string, status: 'delivered' | 'skipped' | 'failed', extra: { ref?: { ref: MessageRef; renderedVersion?: string }; error?: string; data?: Record<string, unknown> }): Promise<void>;
  /**
   * Throws {@link RetryableDeliveryError} when the failure is worth another attempt (the row stays pending, however
   * many attempts it took: the reconciler keeps paying it); otherwise records it as failed, for good.
   */
  failOrRetry(requestId: string, kind: DeliveryKind, target: string, err: unknown): Promise<'failed'>;
}

/** What each delivery function works with: the service's dependencies, its clock and its ledger. */
interface Ctx extends DeliveryServiceDeps {
  now(): Date;
  ledger: DeliveryLedger;
}

function auditChannelOf(kind: DeliveryKind, target: string): string {
  return kind === 'callback' ? 'api' : parseTarget(target).kind || 'system';
}

function createDeliveryLedger(deps: DeliveryServiceDeps, clock: () => Date): DeliveryLedger {
  async function settle(...[requestId, kind, target, status, extra]: Parameters<DeliveryLedger['settle']>): Promise<void> {
    await deps.deliveries.settle(requestId, kind, target, status, { ref: extra.ref, error: extra.error });
    await deps.audit.append([{
      type: `delivery.${status}`, requestId, actor: SYSTEM_ACTOR, channel: auditChannelOf(kind, target), at: clock(),
      data: { kind, target, ...(extra.error ? { error: extra.error } : {}), ...(extra.data ?? {}) },
    }]);
  }
  return {
    settle,
    async failOrRetry(requestId, kind, target, err) {
      const failure = asChannelError(err);
      const message = `${failure.code}: ${failure.message}`;
      if (failure.retryable) {
        await deps.deliveries.recordError(requestId, kind, target, message);
        throw new RetryableDeliveryError(message, failure.retryAfterMs);
      }
      await settle(requestId, kind, target, 'failed', { error: message, data: { permanent: true } });
      return 'failed';
    },
  };
}

function channelFor(ctx: Ctx, target: string): { channel?: ChatChannel; destination: string; kind: string } {
  const { kind, destination } = parseTarget(target);
  return { channel: ctx.channels.get(kind), destination, kind };
}

async function postCard(ctx: Ctx, requestId: string, target: string): Promise<DeliveryOutcome> {
  const row = await ctx.deliveries.claim(requestId, 'card', target);
  if (row.status !== 'pending') return 'already_done';
  const { channel, destination, kind } = channelFor(ctx, target);
  if (!channel) {
    await ctx.ledger.settle(requestId, 'card', target, 'skipped', { data: { reason: `the ${kind} channel is not configured on this server` } });
    return 'skipped';
  }
  const view = await ctx.queries.view(requestId);
  let found: MessageRef | null = null;
  try {
    // An earlier attempt began (the row counts it) and never settled: its post may have reached the platform. Looked
    // for even when the request is final by now, so such a card does not keep its buttons for ever.
    if (row.attempts > 1) found = (await recallPostedMessage(ctx, requestId, target)) ?? (await findPostedCard(ctx, channel, destination, view, target));
  } catch (err) {
    return ctx.ledger.failOrRetry(requestId, 'card', target, err);
  }
  if (view.final && !found) {
    await ctx.ledger.settle(requestId, 'card', target, 'skipped', { data: { reason: `request already ${view.status} before its card was posted` } });
    return 'skipped';
  }
  let ref: MessageRef;
  try {
    ref = found ?? (await channel.postCard(destination, view));
  } catch (err) {
    return ctx.ledger.failOrRetry(requestId, 'card', target, err);
  }
  // Before the row is settled: if that fails, the next attempt finds the reference here.
  if (!found) await rememberPosted(ctx, requestId, target, ref);
  // A card found was rendered by an earlier attempt, from a state that may be older: let the catch-up below redo it.
  await ctx.ledger.settle(requestId, 'card', target, 'delivered', {
    ref: { ref, renderedVersion: found ? UNKNOWN_RENDER : view.version },
    data: found ? { recovered: 'the card an earlier attempt posted was found; not posted again' } : undefined,
  });
  // A vote may have landed while we were posting: bring the card up to date. The card is posted either way; a failed
  // catch-up is left to the update job that vote enqueued (and to the reconciler), so it is logged, not surfaced.
  const now = await ctx.queries.view(requestId);
  if (found || now.version !== view.version) {
    await updateCard(ctx, requestId, target).catch((err) => ctx.log.warn({ err, requestId, target }, 'catch-up render after posting failed; the pending update job will retry'));
  }
  return 'delivered';
}

/** Remembers a message just sent, before its row is settled; a memo that cannot take it is logged, not fatal. */
async function rememberPosted(ctx: Ctx, requestId: string, target: string, ref: MessageRef): Promise<void> {
  await ctx.postedMessages?.remember(requestId, target, ref).catch((err) => ctx.log.warn({ err, requestId, target }, 'could not remember the message sent outside the database'));
}

/** The reference an earlier attempt remembered; a memo that cannot answer counts as none (the look-up comes next). */
async function recallPostedMessage(ctx: Ctx, requestId: string, target: string): Promise<MessageRef | null> {
  if (!ctx.postedMessages) return null;
  return ctx.postedMessages.recall(requestId, target).catch((err) => {
    ctx.log.warn({ err, requestId, target }, 'could not read the memo of messages sent');
    return null;
  });
}

/**
 * The card an earlier, unsettled attempt may have posted. A lookup the platform cannot do at all (no such method, a
 * missing scope) is logged and answered with null, so the card is posted rather than never delivered; a transient
 * lookup failure is thrown, so nothing is posted blind while the platform cannot say.
 */
async function findPostedCard(ctx: Ctx, channel: ChatChannel, destination: string, view: ApprovalView, target: string): Promise<MessageRef | null> {
  if (!channel.findCard) {
    ctx.log.warn({ requestId: view.id, target }, 'an earlier attempt may have posted this card and the platform offers no look-up; posting it again');
    return null;
  }
  try {
    return await channel.findCard(destination, view);
  } catch (err) {
    const failure = asChannelError(err);
    if (failure.retryable) throw failure;
    ctx.log.warn({ requestId: view.id, target, code: failure.code }, 'cannot look for a card an earlier attempt may have posted; posting it (it may show twice)');
    return null;
  }
}

async function updateCard(ctx: Ctx, requestId: string, target: string): Promise<DeliveryOutcome> {
  const existing = await ctx.deliveries.get(requestId, 'card', target);
  if (!existing || existing.status !== 'delivered' || !existing.messageRef) return 'skipped';
  const { channel } = channelFor(ctx, target);
  if (!channel) return 'skipped';
  let rendered = existing.messageRef.renderedVersion;
  // Re-render until the card shows the current state: concurrent updates may finish out of order, and a duplicate
  // job finds the card already showing this state and does nothing.
  for (let round = 0; round < UPDATE_ROUNDS; round++) {
    const view = await ctx.queries.view(requestId);
    if (rendered === view.version) return round === 0 ? 'already_done' : 'delivered';
    try {
      await channel.updateCard(existing.messageRef.ref, view);
    } catch (err) {
      const failure = asChannelError(err);
      const message = `${failure.code}: ${failure.message}`;
      await ctx.deliveries.recordError(requestId, 'card', target, message);
      if (failure.retryable) throw new RetryableDeliveryError(message, failure.retryAfterMs);
      // The card stays as it was; record why, so GET /v1/requests/:id and the trail show it, and give this state up
      // (the reconciler stops re-driving it; a later change tries again).
      await ctx.deliveries.abandonRender(requestId, target, view.version);
      await ctx.audit.append([{ type: 'delivery.update_failed', requestId, actor: SYSTEM_ACTOR, channel: auditChannelOf('card', target), at: ctx.now(), data: { kind: 'card', target, error: message, version: view.version } }]);
      ctx.log.warn({ err, requestId, target }, 'card update failed permanently');
      return 'failed';
    }
    await ctx.deliveries.markRendered(requestId, target, view.version);
    rendered = view.version;
  }
  return 'delivered';
}

/** The delivery row key of reminder `index` under the card at `target`. */
export const reminderKey = (target: string, index: number) => `${target}#${index}`;

async function remindApprovers(ctx: Ctx, requestId: string, target: string, index: number): Promise<DeliveryOutcome> {
  const key = reminderKey(target, index);
  const card = await ctx.deliveries.get(requestId, 'card', target);
  if (!card || card.status !== 'delivered' || !card.messageRef) return 'skipped';
  if ((await ctx.deliveries.claim(requestId, 'reminder', key)).status !== 'pending') return 'already_done';
  const { channel, kind } = channelFor(ctx, target);
  if (!channel?.remind) {
    await ctx.ledger.settle(requestId, 'reminder', key, 'skipped', { data: { reason: `the ${kind} channel cannot send reminders on this server` } });
    return 'skipped';
  }
  const view = await ctx.queries.view(requestId);
  if (view.final) {
    await ctx.ledger.settle(requestId, 'reminder', key, 'skipped', { data: { reason: `request already ${view.status}` } });
    return 'skipped';
  }
  let ref: MessageRef;
  try {
    ref = await channel.remind(card.messageRef.ref, view);
  } catch (err) {
    return ctx.ledger.failOrRetry(requestId, 'reminder', key, err);
  }
  await ctx.ledger.settle(requestId, 'reminder', key, 'delivered', { ref: { ref }, data: { reminder: index + 1, approvals: view.approvals, approvalsRequired: view.approvalsRequired } });
  return 'delivered';
}

async function notifyRequester(ctx: Ctx, requestId: string): Promise<DeliveryOutcome> {
  const view = await ctx.queries.view(requestId);
  if (!view.final) return 'skipped';
  const people: PersonIdentity[] = [view.onBehalfOf, view.requester].filter((p): p is NonNullable<typeof p> => Boolean(p));
  // One row per platform, so a retry after one platform failed never notifies through the others again.
  const outcomes: DeliveryOutcome[] = [];
  let retry: unknown;
  for (const channel of ctx.channels.values()) {
    const target = `requester:${channel.kind}`;
    const row = await ctx.deliveries.claim(requestId, 'notify', target);
    if (row.status !== 'pending') {
      outcomes.push('already_done');
      continue;
    }
    try {
      // An earlier attempt that never settled may have sent it (its row could not be written): not a second time.
      const sent = row.attempts > 1 ? await recallPostedMessage(ctx, requestId, target) : null;
      let ref: MessageRef | null = sent;
      if (!sent) for (const person of people) if ((ref = await channel.notify(person, view))) break;
      if (ref && !sent) await rememberPosted(ctx, requestId, target, ref);
      if (ref) await ctx.ledger.settle(requestId, 'notify', target, 'delivered', { ref: { ref }, data: sent ? { recovered: 'sent by an earlier attempt; not sent again' } : undefined });
      else await ctx.ledger.settle(requestId, 'notify', target, 'skipped', { data: { reason: `${channel.kind} does not know the requester` } });
      outcomes.push(ref ? 'delivered' : 'skipped');
    } catch (err) {
      try {
        outcomes.push(await ctx.ledger.failOrRetry(requestId, 'notify', target, err));
      } catch (retryable) {
        retry = retryable; // try the other platforms first, then let the job retry this one
      }
    }
  }
  if (retry) throw retry;
  return outcomes.includes('delivered') ? 'delivered' : outcomes.includes('failed') ? 'failed' : outcomes.length ? outcomes[0] : 'skipped';
}

async function sendCallback(ctx: Ctx, requestId: string): Promise<DeliveryOutcome> {
  const existing = await ctx.deliveries.get(requestId, 'callback', 'callback');
  if (existing && existing.status !== 'pending') return 'already_done';
  const detail = await ctx.queries.get(requestId);
  if (!detail.callbackUrl || !isFinal(detail.status)) return 'skipped';
  await ctx.deliveries.claim(requestId, 'callback', 'callback');
  try {
    await ctx.callback.send({ ...detail, callbackUrl: detail.callbackUrl }, await ctx.callbackHostsOf(detail.submittedBy.apiKey));
  } catch (err) {
    return ctx.ledger.failOrRetry(requestId, 'callback', 'callback', err);
  }
  await ctx.ledger.settle(requestId, 'callback', 'callback', 'delivered', { data: { url: detail.callbackUrl, status: detail.status } });
  return 'delivered';
}
