/**
 * Renders the result of a chat command (`audit …`, `pending`, `help`) as an Adaptive Card. The command service
 * decides what is shown and to whom; this only lays it out, with the same facts the Slack adapter prints.
 */
import { plainText } from '../../src/channels/chat-reply';
import { summarizeStatus, type ApprovalView } from '../../src/domain/approval-view';
import type { AuditRecord } from '../../src/services/audit-service';
import type { ChatCommandResult } from '../../src/services/chat-command-service';
import { CARD_VERSION, cardDateTime, neutralizeMarkdown, noticeElement, requestFacts, type AdaptiveCard, type CardElement } from './approval-card';

const MAX_FIELD = 160;

function text(value: string, extra: Record<string, unknown> = {}): CardElement {
  return { type: 'TextBlock', text: value, wrap: true, ...extra };
}

function card(body: CardElement[]): AdaptiveCard {
  return { type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: CARD_VERSION, msteams: { width: 'Full' }, body };
}

function clip(value: string): string {
  return value.length > MAX_FIELD ? `${value.slice(0, MAX_FIELD - 1)}…` : value;
}

/** The event's own facts in one line (decision, reason, refusal, outcome, delivery error…), skipping nested objects. */
export function summarizeEventData(data: Record<string, unknown>): string {
  return Object.entries(data ?? {})
    .filter(([, v]) => v !== null && v !== undefined && ['string', 'number', 'boolean'].includes(typeof v))
    .map(([k, v]) => `${k}: ${clip(String(v))}`)
    .join(' · ');
}

function eventElement(e: AuditRecord): CardElement {
  const who = e.actor.label ? `${e.actor.label} (${e.actor.key})` : e.actor.key;
  const details = summarizeEventData(e.data);
  return {
    type: 'Container',
    spacing: 'Small',
    separator: true,
    items: [
      text(`**${e.type}** · ${neutralizeMarkdown(who)} · via ${e.channel} · ${cardDateTime(e.at)}${e.requestId ? ` · request ${e.requestId}` : ''}`, { spacing: 'None' }),
      ...(details ? [text(neutralizeMarkdown(details), { isSubtle: true, spacing: 'None', size: 'Small' })] : []),
    ],
  };
}

function pendingItem(view: ApprovalView): CardElement {
  return {
    type: 'Container',
    separator: true,
    items: [
      text(`**${neutralizeMarkdown(view.action)}** on ${neutralizeMarkdown(view.resource)}`),
      text(`${neutralizeMarkdown(view.requesterLabel)} · ${summarizeStatus(view)} · expires ${cardDateTime(view.expiresAt)}`, { isSubtle: true, spacing: 'None' }),
      text(`Request id: ${view.id}`, { isSubtle: true, spacing: 'None', size: 'Small' }),
    ],
  };
}

/** The card that answers a command message. */
export function renderCommandCard(result: ChatCommandResult): AdaptiveCard {
  switch (result.kind) {
    case 'help':
      return card([text('Countersign commands', { size: 'Large', weight: 'Bolder' }), ...result.lines.map((l) => text(`• ${l}`, { spacing: 'Small' }))]);
    case 'pending':
      return card([
        text(result.items.length ? `Requests you can approve (${result.items.length})` : 'Nothing is waiting for your approval.', { size: 'Large', weight: 'Bolder' }),
        ...result.items.map(pendingItem),
      ]);
    case 'trail':
      return card([
        text(`Audit trail of request ${result.request.id}`, { size: 'Large', weight: 'Bolder' }),
        text(summarizeStatus(result.request), { spacing: 'Small' }),
        ...requestFacts(result.request),
        text(`Events (${result.events.length})`, { weight: 'Bolder', spacing: 'Medium' }),
        ...result.events.map(eventElement),
      ]);
    case 'events':
      return card([
        text('Audit events', { size: 'Large', weight: 'Bolder' }),
        text(neutralizeMarkdown(result.description), { isSubtle: true, spacing: 'Small' }),
        ...(result.events.length ? result.events.map(eventElement) : [text('No matching events.')]),
        ...(result.nextCursor ? [text(`More events: repeat the command with page:${result.nextCursor}`, { isSubtle: true })] : []),
      ]);
    case 'refused':
      return card([noticeElement({ text: result.message, tone: 'refused' })]);
    case 'error':
      return card([noticeElement({ text: plainText({ text: result.message, tone: 'error' }), tone: 'error' })]);
  }
}
