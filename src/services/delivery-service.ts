/**
 * Delivering what a request owes to the outside world: approval cards, card updates, the requester's notification and
 * the result callback. The delivery row is the guard that keeps a card from being posted twice; audit events record
 * each result. Called by the delivery worker, outside any transaction (these are network calls).
 */
import { createHmac, randomUUID } from 'node:crypto';
import type pino from 'pino';
import { isFinal, type RequestStatus } from '../domain/approval';
import type { PersonIdentity } from '../domain/identity';
import { ChannelError, parseTarget, type ChannelKind, type ChatChannel, type MessageRef } from '../ports/chat-channel';
import type { Database } from '../store/database';
import type { AuditService } from './audit-service';
import { SYSTEM_ACTOR } from './audit-event';
import type { RequestQueryService } from './request-query-service';

/** Thrown for a failure worth another attempt; the worker's backoff honours `retryAfterMs`. */
export class RetryableDeliveryError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'RetryableDeliveryError';
  }
}

export type DeliveryOutcome = 'delivered' | 'skipped' | 'failed' | 'already_done';

export interface DeliveryService {
  postCard(requestId: string, target: string, attempt: { last: boolean }): Promise<DeliveryOutcome>;
  updateCard(requestId: string, target: string, attempt: { last: boolean }): Promise<DeliveryOutcome>;
  notifyRequester(requestId: string, attempt: { last: boolean }): Promise<DeliveryOutcome>;
  sendCallback(requestId: string, attempt: { last: boolean }): Promise<DeliveryOutcome>;
  /** What a change owes: updates for every posted card, and once final, the notification and callback. */
  plan(requestId: string): Promise<{ cardTargets: string[]; notify: boolean; callback: boolean; version: string }>;
}

interface DeliveryRow {
  status: string;
  message_ref: { ref: MessageRef; renderedVersion?: string } | null;
  attempts: number;
}

export function createDeliveryService(deps: {
  db: Pick<Database, '$queryRawUnsafe' | '$executeRawUnsafe'>;
  queries: Pick<RequestQueryService, 'view' | 'get'>;
  audit: Pick<AuditService, 'append'>;
  channels: Map<ChannelKind, ChatChannel>;
  callback: { secret?: string; timeoutMs: number };
  log: pino.Logger;
  clock?: () => Date;
}): DeliveryService {
  const clock = deps.clock ?? (() => new Date());

  async function row(requestId: string, kind: string, target: string): Promise<DeliveryRow | undefined> {
    const rows = await deps.db.$queryRawUnsafe<DeliveryRow[]>(
      'SELECT status, message_ref, attempts FROM delivery WHERE request_id = $1::uuid AND kind = $2 AND target = $3',
      requestId, kind, target,
    );
    return rows[0];
  }

  /**
   * Creates the row if needed and counts the attempt while it is pending. A settled row (delivered, skipped, failed)
   * comes back unchanged, which is how a duplicate job learns it has nothing to do.
   */
  async function claim(requestId: string, kind: string, target: string): Promise<DeliveryRow> {
    const rows = await deps.db.$queryRawUnsafe<DeliveryRow[]>(
      `INSERT INTO delivery (id, request_id, kind, target, status, attempts, updated_at) VALUES ($1::uuid, $2::uuid, $3, $4, 'pending', 1, now())
       ON CONFLICT (request_id, kind, target) DO UPDATE SET attempts = delivery.attempts + 1, updated_at = now()
         WHERE delivery.status = 'pending'
       RETURNING status, message_ref, attempts`,
      randomUUID(), requestId, kind, target,
    );
    return rows[0] ?? (await row(requestId, kind, target))!;
  }

  async function finish(requestId: string, kind: string, target: string, status: 'delivered' | 'skipped' | 'failed', extra: { ref?: unknown; error?: string; data?: Record<string, unknown> }) {
    await deps.db.$executeRawUnsafe(
      `UPDATE delivery SET status = $4::"DeliveryStatus", message_ref = COALESCE($5::jsonb, message_ref), last_error = $6, updated_at = now()
       WHERE request_id = $1::uuid AND kind = $2 AND target = $3`,
      requestId, kind, target, status, extra.ref === undefined ? null : JSON.stringify(extra.ref), extra.error ?? null,
    );
    await deps.audit.append([{
      type: `delivery.${status}`, requestId, actor: SYSTEM_ACTOR, channel: kind === 'callback' ? 'api' : parseTarget(target).kind || 'system', at: clock(),
      data: { kind, target, ...(extra.error ? { error: extra.error } : {}), ...(extra.data ?? {}) },
    }]);
  }

  /** Classifies a failure: retry (throw) unless permanent or out of attempts, in which case record it as failed. */
  async function failOrRetry(requestId: string, kind: string, target: string, err: unknown, last: boolean): Promise<DeliveryOutcome> {
    const ce = err instanceof ChannelError ? err : undefined;
    const message = ce ? `${ce.code}: ${ce.message}` : (err as Error)?.message ?? String(err);
    const retryable = ce ? ce.retryable : !(err instanceof PermanentCallbackError);
    if (retryable && !last) {
      await deps.db.$executeRawUnsafe(
        'UPDATE delivery SET last_error = $4, updated_at = now() WHERE request_id = $1::uuid AND kind = $2 AND target = $3',
        requestId, kind, target, message,
      );
      throw new RetryableDeliveryError(message, ce?.retryAfterMs);
    }
    await finish(requestId, kind, target, 'failed', { error: message, data: { permanent: !retryable } });
    return 'failed';
  }

  function channelFor(target: string): { channel?: ChatChannel; destination: string; kind: string } {
    const { kind, destination } = parseTarget(target);
    return { channel: deps.channels.get(kind as ChannelKind), destination, kind };
  }

  return {
    async postCard(requestId, target, { last }) {
      if ((await claim(requestId, 'card', target)).status !== 'pending') return 'already_done';
      const { channel, destination, kind } = channelFor(target);
      if (!channel) {
        await finish(requestId, 'card', target, 'skipped', { data: { reason: `the ${kind} channel is not configured on this server` } });
        return 'skipped';
      }
      const view = await deps.queries.view(requestId);
      if (view.final) {
        await finish(requestId, 'card', target, 'skipped', { data: { reason: `request already ${view.status} before its card was posted` } });
        return 'skipped';
      }
      let ref: MessageRef;
      try {
        ref = await channel.postCard(destination, view);
      } catch (err) {
        return failOrRetry(requestId, 'card', target, err, last);
      }
      await finish(requestId, 'card', target, 'delivered', { ref: { ref, renderedVersion: view.version } });
      // A vote may have landed while we were posting: bring the card up to date.
      const now = await deps.queries.view(requestId);
      if (now.version !== view.version) await this.updateCard(requestId, target, { last: true }).catch(() => undefined);
      return 'delivered';
    },

    async updateCard(requestId, target, { last }) {
      const existing = await row(requestId, 'card', target);
      if (!existing || existing.status !== 'delivered' || !existing.message_ref) return 'skipped';
      const { channel } = channelFor(target);
      if (!channel) return 'skipped';
      // Re-render until the card shows the current state: concurrent updates may finish out of order, and a duplicate
      // job finds the card already showing this state and does nothing.
      for (let i = 0; i < 3; i++) {
        const view = await deps.queries.view(requestId);
        if (existing.message_ref.renderedVersion === view.version) return i === 0 ? 'already_done' : 'delivered';
        try {
          await channel.updateCard(existing.message_ref.ref, view);
        } catch (err) {
          const ce = err instanceof ChannelError ? err : undefined;
          if ((ce ? ce.retryable : true) && !last) throw new RetryableDeliveryError(ce ? `${ce.code}: ${ce.message}` : String(err), ce?.retryAfterMs);
          // The card stays as it was; record why, so GET /v1/requests/:id and the trail show it.
          const message = ce ? `${ce.code}: ${ce.message}` : String(err);
          await deps.db.$executeRawUnsafe(
            `UPDATE delivery SET last_error = $3, updated_at = now() WHERE request_id = $1::uuid AND kind = 'card' AND target = $2`,
            requestId, target, message,
          );
          await deps.audit.append([{ type: 'delivery.update_failed', requestId, actor: SYSTEM_ACTOR, channel: parseTarget(target).kind, at: clock(), data: { kind: 'card', target, error: message, version: view.version } }]);
          deps.log.warn({ err, requestId, target }, 'card update failed permanently');
          return 'failed';
        }
        await deps.db.$executeRawUnsafe(
          `UPDATE delivery SET message_ref = jsonb_set(message_ref, '{renderedVersion}', to_jsonb($3::text)), updated_at = now()
           WHERE request_id = $1::uuid AND kind = 'card' AND target = $2 AND status = 'delivered'`,
          requestId, target, view.version,
        );
        existing.message_ref.renderedVersion = view.version;
      }
      return 'delivered';
    },

    async notifyRequester(requestId, { last }) {
      const view = await deps.queries.view(requestId);
      if (!view.final) return 'skipped';
      const people: PersonIdentity[] = [view.onBehalfOf, view.requester].filter((p): p is PersonIdentity => Boolean(p));
      // One row per platform, so a retry after one platform failed never notifies through the others again.
      const outcomes: DeliveryOutcome[] = [];
      let retry: unknown;
      for (const channel of deps.channels.values()) {
        const target = `requester:${channel.kind}`;
        if ((await claim(requestId, 'notify', target)).status !== 'pending') {
          outcomes.push('already_done');
          continue;
        }
        try {
          let ref: MessageRef | null = null;
          for (const person of people) if ((ref = await channel.notify(person, view))) break;
          if (ref) await finish(requestId, 'notify', target, 'delivered', { ref: { ref } });
          else await finish(requestId, 'notify', target, 'skipped', { data: { reason: `${channel.kind} does not know the requester` } });
          outcomes.push(ref ? 'delivered' : 'skipped');
        } catch (err) {
          try {
            outcomes.push(await failOrRetry(requestId, 'notify', target, err, last));
          } catch (retryable) {
            retry = retryable; // try the other platforms first, then let the job retry this one
          }
        }
      }
      if (retry) throw retry;
      return outcomes.includes('delivered') ? 'delivered' : outcomes.includes('failed') ? 'failed' : outcomes.length ? outcomes[0] : 'skipped';
    },

    async sendCallback(requestId, { last }) {
      const existing = await row(requestId, 'callback', 'callback');
      if (existing && existing.status !== 'pending') return 'already_done';
      const detail = await deps.queries.get(requestId);
      if (!detail.callbackUrl || !isFinal(detail.status)) return 'skipped';
      await claim(requestId, 'callback', 'callback');
      if (!deps.callback.secret) {
        await finish(requestId, 'callback', 'callback', 'skipped', { data: { reason: 'CALLBACK_SIGNING_SECRET is not set' } });
        return 'skipped';
      }
      const body = JSON.stringify({
        event: 'request.decided',
        request: { id: detail.id, status: detail.status, action: detail.action, resource: detail.resource, decidedAt: detail.decidedAt, decidedBy: detail.decidedBy, reason: detail.decisionReason, votes: detail.votes, policy: { rule: detail.policy.rule } },
      });
      const ts = Math.floor(clock().getTime() / 1000);
      const signature = createHmac('sha256', deps.callback.secret).update(`${ts}.${body}`).digest('hex');
      try {
        const res = await fetch(detail.callbackUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'countersign-signature': `t=${ts},v1=${signature}`, 'countersign-request-id': detail.id },
          body,
          signal: AbortSignal.timeout(deps.callback.timeoutMs),
          redirect: 'manual',
        });
        if (!res.ok) {
          const retryAfter = Number(res.headers.get('retry-after'));
          const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
          const msg = `callback answered HTTP ${res.status}`;
          throw permanent ? new PermanentCallbackError(msg) : new RetryableDeliveryError(msg, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
        }
      } catch (err) {
        if (err instanceof RetryableDeliveryError && !last) throw err;
        return failOrRetry(requestId, 'callback', 'callback', err, last);
      }
      await finish(requestId, 'callback', 'callback', 'delivered', { data: { url: detail.callbackUrl, status: detail.status } });
      return 'delivered';
    },

    async plan(requestId) {
      const rows = await deps.db.$queryRawUnsafe<{ status: RequestStatus; policy_outcome: string; callback_url: string | null; votes: number; cards: string[] }[]>(
        `SELECT r.status, r.policy_outcome, r.callback_url, (SELECT count(*)::int FROM vote v WHERE v.request_id = r.id) AS votes,
           COALESCE((SELECT array_agg(d.target) FROM delivery d WHERE d.request_id = r.id AND d.kind = 'card' AND d.status = 'delivered'), '{}') AS cards
         FROM approval_request r WHERE r.id = $1::uuid`,
        requestId,
      );
      const r = rows[0];
      if (!r) return { cardTargets: [], notify: false, callback: false, version: 'missing' };
      const final = isFinal(r.status);
      return {
        cardTargets: r.cards,
        notify: final && r.policy_outcome === 'require' && deps.channels.size > 0,
        callback: final && Boolean(r.callback_url),
        version: `${r.status}:${r.votes}`,
      };
    },
  };
}

class PermanentCallbackError extends Error {}

