/**
 * Adaptive Card rendering. Everything a Teams user sees is built here from channel-neutral objects (ApprovalView,
 * chat replies, command results): the approval card, one user's notice, and the command answers.
 *
 * Cards are Adaptive Card 1.5 with Universal Actions (`Action.Execute`), the only card model in which Teams sends
 * button clicks to the bot and lets it answer with a new card for the clicking user. The content mirrors the Slack
 * card field for field; both read the same view, so neither can show a fact the other lacks.
 */
import { CardFactory, type Activity } from 'botbuilder';
import { auditLine } from '../../src/channels/audit-line';
import { cardFacts, type CardFact } from '../../src/channels/card-facts';
import { pendingList, type PendingEntry } from '../../src/channels/pending-list';
import { plainText, type ChatReply } from '../../src/channels/chat-reply';
import { STATUS_WORDS, VOTE_WORDS } from '../../src/channels/status-words';
import { TEXT_LIMITS } from '../../src/channels/text-limits';
import { summarizeStatus, type ApprovalView } from '../../src/domain/approval-view';
import type { AuditRecord } from '../../src/services/audit-service';
import type { ChatCommandResult } from '../../src/services/chat-command-service';

/** An Adaptive Card as JSON. Kept loose: botbuilder's CardFactory takes `any` and Teams validates the payload. */
export type AdaptiveCard = Record<string, unknown> & { type: 'AdaptiveCard'; version: string; body: CardElement[] };
export type CardElement = Record<string, unknown>;

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
export const CARD_VERSION = '1.5';

/** Verbs of our `Action.Execute` actions; `refresh` is what Teams sends for the card's `refresh` clause. */
export const VERBS = { approve: 'approve', deny: 'deny', refresh: 'refresh' } as const;
export type Verb = (typeof VERBS)[keyof typeof VERBS];

/** Id of the reason input; Teams merges input values into `action.data` under this key. */
export const REASON_INPUT_ID = 'reason';

/**
 * Id of one entry's reason input on the `pending` list. Teams submits every input of a card with any of its actions,
 * and input ids must be unique, so each entry's input names its request.
 */
export function pendingReasonInputId(requestId: string): string {
  return `${REASON_INPUT_ID}:${requestId}`;
}

/** The reason typed for `requestId`: on its approval card, or in its entry of the `pending` list. */
export function reasonFromAction(data: Record<string, unknown>, requestId: string): string | undefined {
  for (const value of [data[pendingReasonInputId(requestId)], data[REASON_INPUT_ID]]) {
    if (typeof value === 'string' && value.trim()) return value.trim();
  }
  return undefined;
}
/** Teams refreshes automatically for at most 60 listed users. */
const MAX_REFRESH_USERS = 60;

export interface ApprovalCardOptions {
  /** A message for the one user this card is rendered for (invoke responses): their vote's result or a refusal. */
  notice?: ChatReply;
  /**
   * Teams user ids (MRIs) that refresh the card automatically. Without them Teams refreshes for everyone in chats of
   * up to 60 people and offers a manual refresh elsewhere.
   */
  refreshUserIds?: string[];
  /** Heading override, e.g. for the requester's personal notification. */
  heading?: string;
}

/**
 * Agent-supplied text (justification, resource, context) is shown to approvers: keep it from forming markdown links,
 * so a request cannot dress a phishing link up as something else. A zero-width space between `]` and `(` keeps the
 * text readable while stopping the link syntax.
 */
export function neutralizeMarkdown(text: string): string {
  return text.replace(/\]\(/g, ']\u200b(');
}

/** Adaptive Card DATE/TIME functions render in the viewer's time zone; they want RFC 3339 without fractions. */
export function cardDateTime(iso: string): string {
  const t = iso.replace(/\.\d+Z$/, 'Z');
  return `{{DATE(${t}, SHORT)}} {{TIME(${t})}}`;
}

const STATUS_COLOR: Record<ApprovalView['status'], string> = {
  pending: 'Accent',
  approved: 'Good',
  denied: 'Attention',
  expired: 'Warning',
  cancelled: 'Warning',
};

const NOTICE_STYLE: Record<ChatReply['tone'], { style: string; color: string }> = {
  ok: { style: 'good', color: 'Good' },
  refused: { style: 'attention', color: 'Attention' },
  error: { style: 'warning', color: 'Warning' },
};

function text(value: string, extra: Record<string, unknown> = {}): CardElement {
  return { type: 'TextBlock', text: value, wrap: true, ...extra };
}

function fact(title: string, value: string | null | undefined): { title: string; value: string } | null {
  return value ? { title, value } : null;
}

function facts(list: ({ title: string; value: string } | null)[]): CardElement {
  return { type: 'FactSet', facts: list.filter((f): f is { title: string; value: string } => f !== null) };
}

/** The kit's facts as a FactSet: agent text kept from forming links, times in the viewer's zone. */
function factSet(list: CardFact[]): CardElement {
  return facts(list.map((f) => fact(f.label, f.kind === 'time' ? cardDateTime(f.value) : neutralizeMarkdown(f.value))));
}

function section(title: string, items: CardElement[]): CardElement {
  return { type: 'Container', spacing: 'Medium', items: [text(title, { weight: 'Bolder' }), ...items] };
}

/** A banner for one user's card: the outcome of their click, in the shared chat-reply wording. */
export function noticeElement(notice: ChatReply): CardElement {
  const s = NOTICE_STYLE[notice.tone];
  return { type: 'Container', style: s.style, bleed: true, items: [text(plainText(notice), { weight: 'Bolder', color: s.color })] };
}

/** The request's facts, shared by the approval card and the audit command's trail card. */
export function requestFacts(view: ApprovalView): CardElement[] {
  const out: CardElement[] = [factSet(cardFacts(view))];
  if (view.justification) out.push(section('Justification', [text(neutralizeMarkdown(view.justification))]));
  if (view.context.length) {
    out.push(section('Context', [facts(view.context.map((c) => fact(c.key, `${neutralizeMarkdown(c.value)}${c.masked ? ' (masked)' : ''}`)))]));
  }
  return out;
}

function voteLines(view: ApprovalView): CardElement[] {
  return view.votes.map((v) =>
    text(
      `${VOTE_WORDS[v.decision].symbol} **${neutralizeMarkdown(v.who)}** ${VOTE_WORDS[v.decision].verb} via ${v.channel}, ${cardDateTime(v.at)}` +
        (v.reason ? ` — "${neutralizeMarkdown(v.reason)}"` : ''),
      { spacing: 'Small' },
    ),
  );
}

function outcomeSection(view: ApprovalView): CardElement {
  const items: CardElement[] = [
    facts([
      fact('Outcome', STATUS_WORDS[view.status].word),
      fact('By', view.decidedBy ? neutralizeMarkdown(view.decidedBy) : view.status === 'expired' ? 'nobody (no decision in time)' : null),
      fact('When', view.decidedAt ? cardDateTime(view.decidedAt) : null),
      fact('Why', view.decisionReason ? neutralizeMarkdown(view.decisionReason) : null),
    ]),
  ];
  return { type: 'Container', style: view.status === 'approved' ? 'good' : 'attention', spacing: 'Medium', items: [text('Outcome', { weight: 'Bolder' }), ...items] };
}

/**
 * The reason input. `enforce` makes the client refuse to submit without one; the core checks the rule either way and
 * answers a missing reason with a refusal.
 */
function reasonInput(id: string, mode: ApprovalView['reasonMode'], enforce: boolean): CardElement {
  return {
    type: 'Input.Text',
    id,
    label: mode === 'always' ? 'Reason (required)' : mode === 'on-deny' ? 'Reason (required to deny)' : 'Reason (optional)',
    placeholder: 'Why you approve or deny',
    isMultiline: true,
    maxLength: TEXT_LIMITS.reason,
    isRequired: enforce,
    errorMessage: enforce ? 'A reason is required for this request.' : undefined,
  };
}

/** Approve and Deny for one request; the typed reason travels with the click (`associatedInputs: auto`). */
function decisionActions(requestId: string): CardElement[] {
  const data = { requestId };
  return [
    { type: 'Action.Execute', title: VOTE_WORDS.approve.button, verb: VERBS.approve, data, style: 'positive', associatedInputs: 'auto' },
    { type: 'Action.Execute', title: VOTE_WORDS.deny.button, verb: VERBS.deny, data, style: 'destructive', associatedInputs: 'auto' },
  ];
}

/** Approver ids in the notation policies use (`teams:<AAD object id>`) as MRIs Teams accepts in `refresh.userIds`. */
export function refreshUserIdsFor(memberKeys: string[]): string[] {
  return [...new Set(memberKeys.filter((m) => m.startsWith('teams:')).map((m) => `8:orgid:${m.slice('teams:'.length)}`))].slice(0, MAX_REFRESH_USERS);
}

/**
 * The approval card. Pending: the facts, a reason input, Approve/Deny and a `refresh` clause so every viewer sees the
 * current state. Final: no actions and no refresh, with the outcome, by whom, when and why.
 */
export function renderApprovalCard(view: ApprovalView, opts: ApprovalCardOptions = {}): AdaptiveCard {
  const body: CardElement[] = [];
  if (opts.notice) body.push(noticeElement(opts.notice));
  body.push(
    text(opts.heading ?? `${STATUS_WORDS[view.status].word}: ${neutralizeMarkdown(view.action)}`, { size: 'Large', weight: 'Bolder', style: 'heading' }),
    text(neutralizeMarkdown(summarizeStatus(view)), { color: STATUS_COLOR[view.status], spacing: 'Small' }),
    ...requestFacts(view),
  );
  if (view.votes.length) body.push(section('Votes', voteLines(view)));

  const card: AdaptiveCard = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: CARD_VERSION,
    msteams: { width: 'Full' },
    fallbackText: `${STATUS_WORDS[view.status].word}: ${view.action} on ${view.resource} — ${summarizeStatus(view)} (request ${view.id})`,
    body,
  };

  if (view.final) {
    body.push(outcomeSection(view));
    card.actions = [];
    return card;
  }

  body.push(reasonInput(REASON_INPUT_ID, view.reasonMode, view.reasonMode === 'always'));
  const data = { requestId: view.id };
  card.actions = decisionActions(view.id);
  const refreshUserIds = opts.refreshUserIds ?? [];
  card.refresh = {
    action: { type: 'Action.Execute', title: 'Refresh', verb: VERBS.refresh, data },
    ...(refreshUserIds.length ? { userIds: refreshUserIds.slice(0, MAX_REFRESH_USERS) } : {}),
  };
  return card;
}

/** A message activity carrying one card (posts, updates, command answers). */
export function cardActivity(card: AdaptiveCard, summary?: string): Partial<Activity> {
  return { type: 'message', attachments: [CardFactory.adaptiveCard(card)], ...(summary ? { summary } : {}) };
}

/** A card that only carries a message, for invokes that cannot be tied to a request. */
export function renderNoticeCard(notice: ChatReply): AdaptiveCard {
  return { type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: CARD_VERSION, body: [noticeElement(notice)] };
}

// --- chat command results (`audit …`, `pending`, `help`): the command service decides what is shown and to whom;
// this only lays it out, with the same facts the Slack adapter prints.

function card(body: CardElement[]): AdaptiveCard {
  return { type: 'AdaptiveCard', $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', version: CARD_VERSION, msteams: { width: 'Full' }, body };
}

/** One audit event: who, through which channel and when, then what it says in the kit's wording. */
function eventElement(e: AuditRecord): CardElement {
  const line = auditLine(e);
  const detail = line.detail ? `${line.mark ? `${line.mark.symbol} ` : ''}${line.detail}` : '';
  return {
    type: 'Container',
    spacing: 'Small',
    separator: true,
    items: [
      text(`**${e.type}** · ${neutralizeMarkdown(line.actor)} · via ${e.channel} · ${cardDateTime(e.at)}${e.requestId ? ` · request ${e.requestId}` : ''}`, { spacing: 'None' }),
      ...(detail ? [text(neutralizeMarkdown(detail), { isSubtle: true, spacing: 'None', size: 'Small' })] : []),
    ],
  };
}

/**
 * One entry of the `pending` list, decidable in place like Slack's. Its reason input is never enforced by the client:
 * Teams validates every input of the card on any click, so a required one would block the other entries' buttons.
 */
function pendingItem({ view, facts }: PendingEntry): CardElement {
  return {
    type: 'Container',
    separator: true,
    items: [
      text(`**${neutralizeMarkdown(view.action)}** on ${neutralizeMarkdown(view.resource)}`),
      factSet(facts),
      reasonInput(pendingReasonInputId(view.id), view.reasonMode, false),
      { type: 'ActionSet', actions: decisionActions(view.id) },
    ],
  };
}

/** The card that answers a command message. */
export function renderCommandCard(result: ChatCommandResult): AdaptiveCard {
  switch (result.kind) {
    case 'help':
      return card([text('Countersign commands', { size: 'Large', weight: 'Bolder' }), ...result.lines.map((l) => text(`• ${l}`, { spacing: 'Small' }))]);
    case 'pending': {
      const list = pendingList(result.items);
      return card([text(list.heading, { size: 'Large', weight: 'Bolder' }), ...list.entries.map(pendingItem)]);
    }
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
