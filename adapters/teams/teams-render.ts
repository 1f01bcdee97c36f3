/**
 * Adaptive Card rendering. Everything a Teams user sees is built here from channel-neutral objects (ApprovalView,
 * chat replies, command results): the approval card, one user's notice, and the command answers.
 *
 * Cards are Adaptive Card 1.5 with Universal Actions (`Action.Execute`), the only card model in which Teams sends
 * button clicks to the bot and lets it answer with a new card for the clicking user. The content mirrors the Slack
 * card field for field; both read the same view, so neither can show a fact the other lacks.
 *
 * Two rules hold for every card. Outside text (whatever the agent submitted, people's names, vote reasons) goes
 * through {@link neutralizeMarkdown}: it cannot bold, link, list or start a paragraph of its own, so it cannot forge a
 * vote, a heading or an outcome. And every card fits Teams' message size limit: long texts are shortened by the chat
 * kit's budget (card-budget.ts), the card says what was shortened and links the full request, and the serialized
 * activity is measured ({@link activityBytes}) before a card is returned.
 */
import { CardFactory, type Activity } from 'botbuilder';
import { agentLines, oneLine } from '../../src/channels/agent-text';
import { auditLine } from '../../src/channels/audit-line';
import { ALL_EVENTS, eventsNote, fitView, FULL_TEXT, pendingNote, renderWithin, shortenedNote, type FittedView, type TextBudget } from '../../src/channels/card-budget';
import { cardFacts, claimsLine, CLAIM_HEADINGS, SOURCE_MARK, type CardFact } from '../../src/channels/card-facts';
import { pendingList, type PendingEntry } from '../../src/channels/pending-list';
import { revokedText, standingList } from '../../src/channels/standing-list';
import { plainText, type ChatReply } from '../../src/channels/chat-reply';
import { notificationHeading, standingButtonLabel, STATUS_WORDS, VOTE_WORDS } from '../../src/channels/status-words';
import { clip, TEXT_LIMITS } from '../../src/channels/text-limits';
import { summarizeStatus, type ApprovalView } from '../../src/domain/approval-view';
import type { AuditRecord } from '../../src/services/audit-service';
import type { ChatCommandResult } from '../../src/services/chat-command-service';

/** An Adaptive Card as JSON. Kept loose: botbuilder's CardFactory takes `any` and Teams validates the payload. */
export type AdaptiveCard = Record<string, unknown> & { type: 'AdaptiveCard'; version: string; body: CardElement[] };
export type CardElement = Record<string, unknown>;

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
export const CARD_VERSION = '1.5';

/**
 * Teams refuses a message over about 100 KB (413 from the connector, permanently). Every card stays within this many
 * bytes of serialized activity, which leaves room for what the connector adds around it (sender, conversation, ids).
 */
export const TEAMS_MESSAGE_BYTES = 80_000;

/** Verbs of our `Action.Execute` actions; `refresh` is what Teams sends for the card's `refresh` clause. */
export const VERBS = { approve: 'approve', deny: 'deny', approveStanding: 'approve_standing', refresh: 'refresh' } as const;
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
  /** The requester's notification: headed with the outcome for them instead of the status. */
  notification?: boolean;
}

// --- escaping ---------------------------------------------------------------------------------------------------

/**
 * Neutralises the Markdown Teams reads in TextBlocks and facts (bold, italics, lists, links; also headings, quotes
 * and code, which other Adaptive Card hosts render) in plain outside text. Markup characters are backslash-escaped
 * (an underscore inside a word, as in `db_password`, is not markup and stays); a zero-width space between `]` and
 * `(`, `:` or `[` leaves no link or link definition a renderer could read, whatever it makes of backslashes; a line
 * that starts like a list, heading or quote gets its marker escaped; and `{{` cannot call a card date function.
 */
export function neutralizeMarkdown(text: string): string {
  return text
    .replace(/[\\*`~]/g, '\\$&')
    .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, '\\_')
    .replace(/\](?=[(:[])/g, ']\u200b')
    .replace(/\{\{/g, '{\u200b{')
    .replace(/(^|\n)([ ]*)(?:([>])|([#+=-])(?=[ #=-]|$|\n)|(\d+)([.)])(?=[ ]|$|\n))/g, (_m, start, indent, quote, marker, digits, dot) =>
      `${start}${indent}${quote ? `\\${quote}` : marker ? `\\${marker}` : `${digits}\\${dot}`}`,
    );
}

/** Outside text for one line (a fact, a name): neutralised, line breaks shown as ⏎. */
export function cardLine(text: string): string {
  return neutralizeMarkdown(oneLine(text));
}

/** Outside text that may span lines: neutralised line by line, each line its own paragraph inside the element. */
export function cardParagraphs(text: string): string {
  return agentLines(text).map(neutralizeMarkdown).join('\n\n');
}

/** Text for places Teams shows without Markdown (the activity summary in notifications): one short plain line. */
export function plainLine(text: string, max = 200): string {
  return clip(oneLine(text), max);
}

/** Adaptive Card DATE/TIME functions render in the viewer's time zone; they want RFC 3339 without fractions. */
export function cardDateTime(iso: string): string {
  const t = iso.replace(/\.\d+Z$/, 'Z');
  return `{{DATE(${t}, SHORT)}} {{TIME(${t})}}`;
}

/** A link we make (to the API): our configuration's URL, the kit's label. */
function link(url: string, label: string): string {
  return `[${label}](${url.replace(/[()\s]/g, encodeURIComponent)})`;
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

interface Fact {
  title: string;
  value: string;
}

function facts(list: (Fact | null)[]): CardElement {
  return { type: 'FactSet', facts: list.filter((f): f is Fact => f !== null) };
}

function fact(title: string, value: string | null | undefined): Fact | null {
  return value ? { title, value } : null;
}

/** A kit fact as shown: outside text neutralised and marked when it is the agent's claim, times in the viewer's zone. */
function factOf(f: CardFact): Fact {
  const value = f.kind === 'time' ? cardDateTime(f.value) : cardLine(f.value);
  return { title: f.label, value: f.source ? `${value} ${SOURCE_MARK[f.source]}` : value };
}

const factSet = (list: CardFact[]): CardElement => facts(list.map(factOf));

function section(title: string, items: CardElement[], extra: Record<string, unknown> = {}): CardElement {
  return { type: 'Container', spacing: 'Medium', ...extra, items: [text(title, { weight: 'Bolder' }), ...items] };
}

/** The serialized size of the message that carries a card: what Teams' limit is measured on. */
export function activityBytes(card: AdaptiveCard): number {
  return Buffer.byteLength(JSON.stringify(cardActivity(card)), 'utf8');
}

const fits = (card: AdaptiveCard): boolean => activityBytes(card) <= TEAMS_MESSAGE_BYTES;

/** What a card holds before it has to shorten anything; {@link renderWithin} shrinks it until the card fits. */
const CARD_BUDGET: TextBudget = { fact: 1000, justification: 4000, contextKey: 100, contextValue: 2000, context: 30_000, reason: 2000, reasons: 16_000 };
/** The trail shows the request with less room for its texts, leaving room for the events. */
const TRAIL_BUDGET: TextBudget = { fact: 1000, justification: 2000, contextKey: 100, contextValue: 500, context: 8000, reason: 1000, reasons: 1000 };
/** A pending entry is a reminder with buttons: the facts that say what it is, short. */
const ENTRY_BUDGET: TextBudget = { fact: 300, justification: 0, contextKey: 0, contextValue: 0, context: 0, reason: 0, reasons: 0 };
/** How much of one audit event's detail a trail shows. */
const EVENT_DETAIL = 600;
/** The status line under a card's heading is a summary; the outcome section has the decision in full. */
const STATUS_LINE = 300;
/** Room kept for the closing note of a list. */
const NOTE_RESERVE = 1000;

// --- the approval card ------------------------------------------------------------------------------------------

/** A banner for one user's card: the outcome of their click, in the shared chat-reply wording. */
export function noticeElement(notice: ChatReply): CardElement {
  const s = NOTICE_STYLE[notice.tone];
  return { type: 'Container', style: s.style, bleed: true, items: [text(neutralizeMarkdown(oneLine(plainText(notice))), { weight: 'Bolder', color: s.color })] };
}

/** Which facts are the agent's word, and what was shortened (with the link to the full request). */
function claimElements(fitted: FittedView): CardElement[] {
  const v = fitted.view;
  const out: CardElement[] = [];
  const claims = claimsLine(v);
  if (claims) out.push(text(`⚠ ${claims}`, { isSubtle: true, size: 'Small', spacing: 'Small' }));
  if (fitted.shortened.length) {
    const where = v.links ? link(v.links.request, FULL_TEXT.request) : FULL_TEXT.noLink(v.id);
    out.push(text(`${shortenedNote(fitted.shortened)} ${where}`, { isSubtle: true, size: 'Small', spacing: 'Small' }));
  }
  return out;
}

/** The request's facts, shared by the approval card and the audit command's trail card. */
export function requestFacts(view: ApprovalView): CardElement[] {
  const out: CardElement[] = [factSet(cardFacts(view))];
  // The agent's own words sit in a shaded box under a heading that says whose words they are.
  if (view.justification) out.push(section(CLAIM_HEADINGS.justification, [text(cardParagraphs(view.justification))], { style: 'emphasis' }));
  if (view.context.length) {
    out.push(section(CLAIM_HEADINGS.context, [facts(view.context.map((c) => ({ title: cardLine(c.key), value: `${cardLine(c.value)}${c.masked ? ' (masked)' : ''}` })))], { style: 'emphasis' }));
  }
  return out;
}

function voteLines(view: ApprovalView): CardElement[] {
  return view.votes.map((v) =>
    text(
      `${VOTE_WORDS[v.decision].symbol} **${cardLine(v.who)}** ${VOTE_WORDS[v.decision].verb} via ${cardLine(v.channel)}, ${cardDateTime(v.at)}` +
        (v.reason ? ` — "${cardLine(v.reason)}"` : ''),
      { spacing: 'Small' },
    ),
  );
}

function outcomeSection(view: ApprovalView): CardElement {
  const items: CardElement[] = [
    facts([
      fact('Outcome', STATUS_WORDS[view.status].word),
      fact('By', view.decidedBy ? cardLine(view.decidedBy) : view.status === 'expired' ? 'nobody (no decision in time)' : null),
      fact('When', view.decidedAt ? cardDateTime(view.decidedAt) : null),
      fact('Why', view.decisionReason ? cardLine(view.decisionReason) : null),
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
function decisionActions(requestId: string, standing?: ApprovalView['standing']): CardElement[] {
  const data = { requestId };
  return [
    { type: 'Action.Execute', title: VOTE_WORDS.approve.button, verb: VERBS.approve, data, style: 'positive', associatedInputs: 'auto' },
    { type: 'Action.Execute', title: VOTE_WORDS.deny.button, verb: VERBS.deny, data, style: 'destructive', associatedInputs: 'auto' },
    // Approve and grant a standing approval at the rule's bounds, where the rule allows one.
    ...(standing ? [{ type: 'Action.Execute', title: standingButtonLabel(standing), verb: VERBS.approveStanding, data, associatedInputs: 'auto' }] : []),
  ];
}

/** Approver ids in the notation policies use (`teams:<AAD object id>`) as MRIs Teams accepts in `refresh.userIds`. */
export function refreshUserIdsFor(memberKeys: string[]): string[] {
  return [...new Set(memberKeys.filter((m) => m.startsWith('teams:')).map((m) => `8:orgid:${m.slice('teams:'.length)}`))].slice(0, MAX_REFRESH_USERS);
}

const SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';

function approvalCard(fitted: FittedView, opts: ApprovalCardOptions): AdaptiveCard {
  const view = fitted.view;
  const body: CardElement[] = [];
  if (opts.notice) body.push(noticeElement(opts.notice));
  const heading = opts.notification ? notificationHeading(view.status, view.action) : `${STATUS_WORDS[view.status].word}: ${view.action}`;
  body.push(
    text(cardLine(heading), { size: 'Large', weight: 'Bolder', style: 'heading' }),
    // A one-line summary: who decided and why are in full in the Outcome section below.
    text(cardLine(clip(summarizeStatus(view), STATUS_LINE)), { color: STATUS_COLOR[view.status], spacing: 'Small' }),
    ...claimElements(fitted),
    ...requestFacts(view),
  );
  if (view.votes.length) body.push(section('Votes', voteLines(view)));

  const card: AdaptiveCard = {
    type: 'AdaptiveCard',
    $schema: SCHEMA,
    version: CARD_VERSION,
    msteams: { width: 'Full' },
    fallbackText: cardLine(clip(`${STATUS_WORDS[view.status].word}: ${view.action} on ${view.resource} — ${summarizeStatus(view)} (request ${view.id})`, 300)),
    body,
  };

  if (view.final) {
    body.push(outcomeSection(view));
    card.actions = [];
    return card;
  }

  body.push(reasonInput(REASON_INPUT_ID, view.reasonMode, view.reasonMode === 'always'));
  const data = { requestId: view.id };
  card.actions = decisionActions(view.id, view.standing);
  const refreshUserIds = opts.refreshUserIds ?? [];
  card.refresh = {
    action: { type: 'Action.Execute', title: 'Refresh', verb: VERBS.refresh, data },
    ...(refreshUserIds.length ? { userIds: refreshUserIds.slice(0, MAX_REFRESH_USERS) } : {}),
  };
  return card;
}

/**
 * The approval card. Pending: the facts (those the agent asserted marked as such), a reason input, Approve/Deny and
 * a `refresh` clause so every viewer sees the current state. Final: no actions and no refresh, with the outcome, by
 * whom, when and why. Long texts are shortened to fit Teams' message limit, and the card says so.
 */
export function renderApprovalCard(view: ApprovalView, opts: ApprovalCardOptions = {}): AdaptiveCard {
  return renderWithin(view, CARD_BUDGET, (fitted) => approvalCard(fitted, opts), fits);
}

/** A message activity carrying one card (posts, updates, command answers). */
export function cardActivity(card: AdaptiveCard, summary?: string): Partial<Activity> {
  return { type: 'message', attachments: [CardFactory.adaptiveCard(card)], ...(summary ? { summary: plainLine(summary) } : {}) };
}

/** A card that only carries a message, for invokes that cannot be tied to a request. */
export function renderNoticeCard(notice: ChatReply): AdaptiveCard {
  return { type: 'AdaptiveCard', $schema: SCHEMA, version: CARD_VERSION, body: [noticeElement(notice)] };
}

// --- chat command results (`audit …`, `pending`, `help`): the command service decides what is shown and to whom;
// this only lays it out, with the same facts the Slack adapter prints.

function card(body: CardElement[]): AdaptiveCard {
  return { type: 'AdaptiveCard', $schema: SCHEMA, version: CARD_VERSION, msteams: { width: 'Full' }, body };
}

/** One audit event: who, through which channel and when, then what it says in the kit's wording (held short). */
function eventElement(e: AuditRecord): { element: CardElement; shortened: boolean } {
  const line = auditLine(e);
  const detail = clip(line.detail, EVENT_DETAIL);
  const shown = detail ? `${line.mark ? `${line.mark.symbol} ` : ''}${cardLine(detail)}` : '';
  return {
    element: {
      type: 'Container',
      spacing: 'Small',
      separator: true,
      items: [
        text(`**${cardLine(e.type)}** · ${cardLine(line.actor)} · via ${cardLine(e.channel)} · ${cardDateTime(e.at)}${e.requestId ? ` · request ${cardLine(e.requestId)}` : ''}`, { spacing: 'None' }),
        ...(shown ? [text(shown, { isSubtle: true, spacing: 'None', size: 'Small' })] : []),
      ],
    },
    shortened: detail !== line.detail,
  };
}

/** Adds elements to a card's body in order for as long as it fits (keeping room for a closing note); says how many did not. */
function fill(base: AdaptiveCard, elements: CardElement[]): { card: AdaptiveCard; shown: number } {
  const body = [...base.body];
  let size = activityBytes(base);
  let shown = 0;
  for (const element of elements) {
    const bytes = Buffer.byteLength(JSON.stringify(element), 'utf8') + 1;
    if (size + bytes > TEAMS_MESSAGE_BYTES - NOTE_RESERVE) break;
    body.push(element);
    size += bytes;
    shown++;
  }
  return { card: { ...base, body }, shown };
}

/**
 * One entry of the `pending` list, decidable in place like Slack's. Its reason input is never enforced by the client:
 * Teams validates every input of the card on any click, so a required one would block the other entries' buttons.
 */
function pendingItem({ view, facts: entryFacts }: PendingEntry): CardElement {
  const { view: v } = fitView(view, ENTRY_BUDGET);
  return {
    type: 'Container',
    separator: true,
    items: [
      text(`**${cardLine(v.action)}** on ${cardLine(v.resource)}`),
      factSet(entryFacts.map((f) => ({ ...f, value: clip(f.value, ENTRY_BUDGET.fact) }))),
      reasonInput(pendingReasonInputId(v.id), v.reasonMode, false),
      { type: 'ActionSet', actions: decisionActions(v.id, v.standing) },
    ],
  };
}

/** A closing note under events that left some out or shortened them, with the link to the full trail when known. */
function eventsNoteElement(omitted: number, shortened: boolean, auditUrl?: string): CardElement[] {
  const notes = eventsNote(omitted, shortened);
  if (!notes) return [];
  return [text(`${notes} ${auditUrl ? link(auditUrl, FULL_TEXT.trail) : ALL_EVENTS}`, { isSubtle: true, size: 'Small' })];
}

/** The card that answers a command message. */
export function renderCommandCard(result: ChatCommandResult): AdaptiveCard {
  switch (result.kind) {
    case 'help':
      return card([text('Countersign commands', { size: 'Large', weight: 'Bolder' }), ...result.lines.map((l) => text(`• ${neutralizeMarkdown(l)}`, { spacing: 'Small' }))]);
    case 'pending': {
      const list = pendingList(result.items);
      const { card: c, shown } = fill(card([text(list.heading, { size: 'Large', weight: 'Bolder' })]), list.entries.map(pendingItem));
      const omitted = list.entries.length - shown;
      if (omitted) c.body.push(text(pendingNote(omitted, 'ask for pending'), { isSubtle: true, size: 'Small' }));
      return c;
    }
    case 'standing': {
      const list = standingList(result.items, 'revoke');
      const { card: c } = fill(card([text(list.heading, { size: 'Large', weight: 'Bolder' })]), list.entries.map((e) => ({
        type: 'Container',
        separator: true,
        items: [text(`**${cardLine(e.action)}** on ${cardLine(e.resource)}`), factSet(e.facts)],
      })));
      if (list.howToRevoke) c.body.push(text(neutralizeMarkdown(list.howToRevoke), { isSubtle: true, size: 'Small' }));
      return c;
    }
    case 'revoked':
      return card([noticeElement({ text: revokedText(result.item), tone: 'ok' })]);
    case 'trail': {
      const r = result.request;
      // Votes are events of the trail: the head shows the request without them.
      const head = renderWithin({ ...r, votes: [] }, TRAIL_BUDGET, (fitted) => card([
        text(`Audit trail of request ${cardLine(fitted.view.id)}`, { size: 'Large', weight: 'Bolder' }),
        text(cardLine(clip(summarizeStatus(fitted.view), STATUS_LINE)), { spacing: 'Small' }),
        ...claimElements(fitted),
        ...requestFacts(fitted.view),
        text(`Events (${result.events.length})`, { weight: 'Bolder', spacing: 'Medium' }),
      ]), (c) => activityBytes(c) <= TEAMS_MESSAGE_BYTES / 2);
      const events = result.events.map(eventElement);
      const { card: c, shown } = fill(head, events.map((e) => e.element));
      c.body.push(...eventsNoteElement(result.events.length - shown, events.slice(0, shown).some((e) => e.shortened), r.links?.audit));
      return c;
    }
    case 'events': {
      const head = card([
        text('Audit events', { size: 'Large', weight: 'Bolder' }),
        text(cardLine(clip(result.description, 1000)), { isSubtle: true, spacing: 'Small' }),
        ...(result.events.length ? [] : [text('No matching events.')]),
      ]);
      const events = result.events.map(eventElement);
      const { card: c, shown } = fill(head, events.map((e) => e.element));
      c.body.push(...eventsNoteElement(result.events.length - shown, events.slice(0, shown).some((e) => e.shortened)));
      if (result.nextCursor) c.body.push(text(`More events: repeat the command with page:${cardLine(result.nextCursor)}`, { isSubtle: true }));
      return c;
    }
    case 'refused':
      return card([noticeElement({ text: clip(result.message, 2000), tone: 'refused' })]);
    case 'error':
      return card([noticeElement({ text: clip(plainText({ text: result.message, tone: 'error' }), 2000), tone: 'error' })]);
  }
}
