/**
 * Block Kit rendering. Everything a Slack user sees is built here from channel-neutral objects (ApprovalView, chat
 * replies, command results), so the card, the modal and the slash command answers stay consistent and testable
 * without Slack.
 *
 * Two rules hold for every message. Outside text (whatever the agent submitted, people's names, vote reasons) is
 * neutralised with {@link mrkdwnLine} / {@link mrkdwnQuote}: it cannot mention, link, format, quote or start a line of
 * its own, so it cannot forge a vote, a heading or an outcome. And every message fits Slack's limits: long texts are
 * shortened by the chat kit's budget (card-budget.ts), the message says what was shortened and links the full request,
 * and {@link blockKitProblems} is the check each message passes before it is returned.
 */
import type { types } from '@slack/bolt';
import { agentLines, oneLine } from '../../src/channels/agent-text';
import { auditLine } from '../../src/channels/audit-line';
import { ALL_EVENTS, eventsNote, FULL_TEXT, pendingNote, renderWithin, shortenedNote, type FittedView, type TextBudget } from '../../src/channels/card-budget';
import { cardFacts, claimsLine, CLAIM_HEADINGS, SOURCE_MARK, type CardFact } from '../../src/channels/card-facts';
import { pendingList } from '../../src/channels/pending-list';
import { revokedText, standingList } from '../../src/channels/standing-list';
import { STATUS_WORDS, VOTE_WORDS } from '../../src/channels/status-words';
import { clip, prefixWithin, TEXT_LIMITS } from '../../src/channels/text-limits';
import { reasonRequired, type VoteDecision } from '../../src/domain/approval';
import { summarizeStatus, type ApprovalView } from '../../src/domain/approval-view';
import { standingButtonLabel } from '../../src/channels/status-words';
import type { AuditRecord } from '../../src/services/audit-service';
import type { ChatCommandResult } from '../../src/services/chat-command-service';

type KnownBlock = types.KnownBlock;
type ModalView = types.ModalView;

/** Action ids of the card's buttons; the button value is always the request id. */
export const ACTIONS = {
  approve: 'countersign_approve',
  /** Approve on a rule with `reason: always`: the click opens the reason modal instead of voting at once. */
  approveWithReason: 'countersign_approve_reason',
  deny: 'countersign_deny',
  /** Approve and grant a standing approval at the rule's bounds (offered only where the rule allows one). */
  approveStanding: 'countersign_approve_standing',
} as const;

/** The reason modal and its single input. */
export const REASON_MODAL = { callbackId: 'countersign_reason', blockId: 'reason', actionId: 'reason_input' } as const;

/** What the reason modal carries from the click to the submission (Slack's `private_metadata`, max 3000 chars). */
export interface ReasonModalMetadata {
  requestId: string;
  decision: VoteDecision;
  /** Where the card was clicked, for the ephemeral answer. */
  channelId?: string;
  /** The click's response_url (valid 30 minutes), the preferred way to answer ephemerally. */
  responseUrl?: string;
}

export interface SlackMessage {
  /** Notification and accessibility fallback. */
  text: string;
  blocks: KnownBlock[];
}

/** Slack's documented size limits; a message over any of them fails with invalid_blocks. */
export const BLOCK_KIT_LIMITS = {
  blocks: 50,
  header: 150,
  section: 3000,
  field: 2000,
  fieldsPerSection: 10,
  contextText: 2000,
  contextElements: 10,
  buttonValue: 2000,
  blockId: 255,
  fallbackText: 40_000,
} as const;

/**
 * Slack also refuses a message whose blocks hold more than about 12,000 characters in all (`msg_blocks_too_long`,
 * undocumented; Slack's answer in slackapi/bolt-js#2509 is "12,000 text characters with a buffer for block
 * containers"). Counting the serialized blocks, containers included, against this figure keeps that buffer.
 */
export const SLACK_MESSAGE_CHARS = 12_000;

/** Notifications show a line, not an essay: the fallback text stays short (Slack's own cap is 40,000). */
const FALLBACK_CHARS = 300;

const LIMIT = BLOCK_KIT_LIMITS;

// --- escaping ---------------------------------------------------------------------------------------------------

/** `&`, `<` and `>` as entities: the text can never mention (`<!channel>`), link or format a date. For our own words. */
export function escapeEntities(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Slack offers no escape for its formatting characters, so outside text gets look-alikes that mrkdwn does not read as
 * markup (the approach of jsx-slack's `<Escape>`). An underscore inside a word (`db_password`) is left alone: Slack
 * only reads `_` as italics at a word's edge.
 */
const LOOKALIKE: Record<string, string> = { '*': '∗', '＊': '﹡', '~': '∼', '`': 'ˋ', '｀': 'ˋ', '＿': '⸏' };

/** Mrkdwn-neutral form of plain outside text (already through agent-text, so no hidden characters of its own). */
function neutralize(text: string): string {
  return (
    escapeEntities(text)
      .replace(/[*＊~`｀＿]/g, (c) => LOOKALIKE[c])
      .replace(/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, 'ˍ')
      // A line that starts like a quote or a list is shown as written: an invisible soft hyphen keeps Slack from
      // reading the marker (jsx-slack does the same for `>`).
      .replace(/(^|\n)( *)(&gt;|＞|[-+•◦▪]|\d+[.)])/g, '$1$2\u00ad$3')
      // Belt and braces for verbatim text: no word Slack could take for a broadcast.
      .replace(/@(?=(channel|here|everyone)\b)/gi, '@\u2060')
  );
}

/** Outside text on one line of mrkdwn: escaped, neutralised, line breaks shown as ⏎. */
export function mrkdwnLine(text: string): string {
  return neutralize(oneLine(text));
}

/** Outside text that may span lines, as mrkdwn quote lines: every line stays inside the quote. */
export function mrkdwnQuote(text: string): string[] {
  return agentLines(text).map((line) => `>${neutralize(line)}`);
}

/** A timestamp every viewer reads in their own time zone; the ISO text is the fallback for old clients. */
export function slackDate(iso: string | null | undefined): string {
  if (!iso) return 'unknown time';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return mrkdwnLine(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${iso}>`;
}

/** A link we make (to the API); the URL comes from our configuration, the label from the kit. */
function link(url: string, label: string): string {
  return `<${escapeEntities(url).replace(/\|/g, '%7C')}|${escapeEntities(label)}>`;
}

/** Fallback text holding outside text: one short, mention-free line. */
function fallback(text: string): string {
  return mrkdwnLine(clip(text, FALLBACK_CHARS));
}

/** Fallback text in the core's own words (which quote commands in backticks on purpose): one short line. */
function replyFallback(text: string): string {
  return escapeEntities(clip(oneLine(text), FALLBACK_CHARS));
}

// --- blocks -----------------------------------------------------------------------------------------------------

/** Every mrkdwn object is verbatim: Slack must not turn outside text into links or mentions on its own. */
const mrkdwn = (text: string) => ({ type: 'mrkdwn' as const, text, verbatim: true });
const plain = (text: string) => ({ type: 'plain_text' as const, text, emoji: false });

const section = (text: string): KnownBlock => ({ type: 'section', text: mrkdwn(text) });
const context = (...texts: string[]): KnownBlock => ({ type: 'context', elements: texts.map(mrkdwn) });
const header = (text: string): KnownBlock => ({ type: 'header', text: plain(clip(oneLine(text), LIMIT.header)) });

/** Splits a line longer than `max` into pieces, never inside an entity or a character; later pieces start with `prefix`. */
function splitLine(line: string, max: number, prefix: string): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > max) {
    let head = prefixWithin(rest, max);
    const amp = head.lastIndexOf('&');
    if (amp > head.lastIndexOf(';') && head.length - amp < 8 && amp > prefix.length) head = head.slice(0, amp);
    out.push(head);
    rest = prefix + rest.slice(head.length);
  }
  out.push(rest);
  return out;
}

/** Escaped mrkdwn held to `max` characters, cut outside any entity and marked with an ellipsis. */
function clipMrkdwn(text: string, max: number): string {
  return text.length <= max ? text : `${splitLine(text, max - 1, '')[0]}…`;
}

/** Packs lines into as few sections as the section limit allows; a quoted line split in two stays quoted. */
function sections(lines: string[]): KnownBlock[] {
  const out: KnownBlock[] = [];
  let current = '';
  for (const line of lines.flatMap((l) => splitLine(l, LIMIT.section, l.startsWith('>') ? '>' : ''))) {
    if (current && current.length + 1 + line.length > LIMIT.section) {
      out.push(section(current));
      current = line;
    } else current = current ? `${current}\n${line}` : line;
  }
  if (current) out.push(section(current));
  return out;
}

/** A fact's value in mrkdwn: outside text neutralised, times in the viewer's zone, identifiers in code. */
function factValue(f: CardFact): string {
  if (f.kind === 'time') return slackDate(f.value);
  if (f.kind === 'id') return `\`${mrkdwnLine(f.value)}\``;
  return mrkdwnLine(f.value);
}

const factLabel = (f: CardFact): string => `*${f.label}*${f.source ? ` _${SOURCE_MARK[f.source]}_` : ''}`;

/** Facts as two-column fields, in as many sections as Slack's ten-fields-per-section limit needs. */
function factFields(facts: CardFact[]): KnownBlock[] {
  const out: KnownBlock[] = [];
  for (let i = 0; i < facts.length; i += LIMIT.fieldsPerSection) {
    out.push({ type: 'section', fields: facts.slice(i, i + LIMIT.fieldsPerSection).map((f) => mrkdwn(`${factLabel(f)}\n${factValue(f)}`)) });
  }
  return out;
}

/** Facts as one line, for list entries. */
const factLine = (facts: CardFact[]): string => facts.map((f) => `${factLabel(f)} ${factValue(f)}`).join(' · ');

/** Every problem a message has with Slack's limits; empty when Slack will take it. */
export function blockKitProblems(msg: SlackMessage): string[] {
  const problems: string[] = [];
  const over = (what: string, text: string | undefined, max: number) => {
    if (text !== undefined && text.length > max) problems.push(`${what}: ${text.length} > ${max}`);
  };
  if (msg.blocks.length > LIMIT.blocks) problems.push(`blocks: ${msg.blocks.length} > ${LIMIT.blocks}`);
  const size = JSON.stringify(msg.blocks).length;
  if (size > SLACK_MESSAGE_CHARS) problems.push(`serialized blocks: ${size} > ${SLACK_MESSAGE_CHARS}`);
  over('fallback text', msg.text, LIMIT.fallbackText);
  for (const b of msg.blocks as any[]) {
    over('block_id', b.block_id, LIMIT.blockId);
    if (b.type === 'header') over('header', b.text?.text, LIMIT.header);
    if (b.type === 'section') {
      over('section', b.text?.text, LIMIT.section);
      if ((b.fields?.length ?? 0) > LIMIT.fieldsPerSection) problems.push(`fields: ${b.fields.length} > ${LIMIT.fieldsPerSection}`);
      for (const f of b.fields ?? []) over('field', f.text, LIMIT.field);
    }
    if (b.type === 'context') {
      if (b.elements.length > LIMIT.contextElements) problems.push(`context elements: ${b.elements.length} > ${LIMIT.contextElements}`);
      for (const e of b.elements) over('context', e.text, LIMIT.contextText);
    }
    if (b.type === 'actions') for (const e of b.elements) over('button value', e.value, LIMIT.buttonValue);
  }
  return problems;
}

const fits = (msg: SlackMessage): boolean => blockKitProblems(msg).length === 0;

/** The trail's head (the request) takes at most this share of the message, leaving the rest to its events. */
const TRAIL_HEAD_CHARS = 5_000;

/** What a card holds before it has to shorten anything; {@link renderWithin} shrinks it until the message fits. */
const CARD_BUDGET: TextBudget = { fact: 1000, justification: 4000, contextKey: 100, contextValue: 2000, context: 4000, reason: 2000, reasons: 3000 };
/** The trail shows the request with less room for its texts, leaving room for the events. */
const TRAIL_BUDGET: TextBudget = { fact: 300, justification: 800, contextKey: 60, contextValue: 200, context: 1000, reason: 300, reasons: 300 };
/** A pending entry is a reminder with buttons: the facts that say what it is, short. */
const ENTRY_BUDGET: TextBudget = { fact: 200, justification: 0, contextKey: 0, contextValue: 0, context: 0, reason: 0, reasons: 0 };
/** How much of one audit event's detail a trail line shows. */
const EVENT_DETAIL = 400;

/** The note on a shortened card: what was shortened, and where the full request is. */
function shortenedContext(fitted: FittedView): KnownBlock[] {
  if (!fitted.shortened.length) return [];
  const v = fitted.view;
  const where = v.links ? link(v.links.request, FULL_TEXT.request) : escapeEntities(FULL_TEXT.noLink(v.id));
  return [context(`${escapeEntities(shortenedNote(fitted.shortened))} ${where}`)];
}

/** Which facts are the agent's word, on every card that shows the request. */
function claimsContext(view: ApprovalView): KnownBlock[] {
  const line = claimsLine(view);
  return line ? [context(`:warning: ${escapeEntities(line)}`)] : [];
}

// --- the card ---------------------------------------------------------------------------------------------------

/** The outcome line shown on a final card and in the requester's DM: what happened, by whom, when and why. */
export function outcomeLine(view: ApprovalView): string {
  const by = mrkdwnLine(view.decidedBy ?? 'policy');
  const why = view.decisionReason ? `\n${mrkdwnQuote(view.decisionReason).join('\n')}` : '';
  const look = STATUS_WORDS[view.status];
  switch (view.status) {
    case 'approved':
    case 'denied':
      return `${look.emoji} *${look.word}* by ${by} · ${slackDate(view.decidedAt)}${why}`;
    case 'expired':
      return `${look.emoji} *${look.word}* without a decision · ${slackDate(view.decidedAt ?? view.expiresAt)}`;
    case 'cancelled':
      return `${look.emoji} *${look.word}* by the requester · ${slackDate(view.decidedAt)}${why}`;
    case 'pending':
      return `${look.emoji} *Waiting for approval:* ${view.approvals} of ${view.approvalsRequired} approvals · expires ${slackDate(view.expiresAt)}`;
  }
}

function voteLines(view: ApprovalView): string[] {
  return view.votes.map((v) => {
    const vote = VOTE_WORDS[v.decision];
    const reason = v.reason ? ` — “${mrkdwnLine(v.reason)}”` : '';
    return `${vote.emoji} *${mrkdwnLine(v.who)}* ${vote.verb} via ${mrkdwnLine(v.channel)} · ${slackDate(v.at)}${reason}`;
  });
}

function contextLines(view: ApprovalView): string[] {
  return view.context.map((c) => `• *${mrkdwnLine(c.key)}*: ${c.masked ? ':lock: ' : ''}${mrkdwnLine(c.value)}`);
}

const justificationLines = (view: ApprovalView): string[] => (view.justification ? [`*${CLAIM_HEADINGS.justification}*`, ...mrkdwnQuote(view.justification)] : []);

/** The Approve/Deny buttons for a pending request (also used by the `pending` command). */
export function decisionButtons(view: Pick<ApprovalView, 'id' | 'reasonMode'> & Partial<Pick<ApprovalView, 'standing'>>): KnownBlock {
  // Offered only where one click may decide without a reason (a rule that wants a reason always goes through the modal).
  const standing = view.standing && view.reasonMode !== 'always'
    ? [{ type: 'button' as const, action_id: ACTIONS.approveStanding, text: { type: 'plain_text' as const, text: standingButtonLabel(view.standing), emoji: true }, value: view.id }]
    : [];
  return {
    type: 'actions',
    block_id: `countersign_decide:${view.id}`,
    elements: [
      {
        type: 'button',
        action_id: view.reasonMode === 'always' ? ACTIONS.approveWithReason : ACTIONS.approve,
        text: { type: 'plain_text', text: VOTE_WORDS.approve.button, emoji: true },
        style: 'primary',
        value: view.id,
      },
      {
        type: 'button',
        action_id: ACTIONS.deny,
        text: { type: 'plain_text', text: VOTE_WORDS.deny.button, emoji: true },
        style: 'danger',
        value: view.id,
      },
      ...standing,
    ],
  };
}

/** One-line summary used as the message's fallback text (notifications, screen readers). */
export function cardText(view: ApprovalView): string {
  const look = STATUS_WORDS[view.status];
  return fallback(`${look.word}: ${view.action} on ${view.resource} requested by ${view.requesterLabel} — ${summarizeStatus(view)}`);
}

function approvalMessage(fitted: FittedView): SlackMessage {
  const view = fitted.view;
  const look = STATUS_WORDS[view.status];
  const blocks: KnownBlock[] = [
    header(`${look.word}: ${view.action}`),
    ...sections([outcomeLine(view)]),
    ...claimsContext(view),
    ...shortenedContext(fitted),
    ...factFields(cardFacts(view)),
    ...sections(justificationLines(view)),
  ];
  if (view.context.length) blocks.push(...sections([`*${CLAIM_HEADINGS.context}*`, ...contextLines(view)]));
  if (view.votes.length) blocks.push(...sections(['*Votes*', ...voteLines(view)]));
  if (!view.final) blocks.push(decisionButtons(view));
  return { text: cardText(view), blocks };
}

/**
 * The last resort for a message no budget could fit: cut to Slack's limits rather than refused. The budgets fit every
 * valid request (the tests render the largest, checking that the card says what it shortened), so this cuts nothing a
 * valid request carries.
 */
function clamp(msg: SlackMessage): SlackMessage {
  const blocks = (msg.blocks as any[]).slice(0, LIMIT.blocks).map((b) => {
    if (b.type === 'section' && b.text) return { ...b, text: { ...b.text, text: clip(b.text.text, LIMIT.section) } };
    if (b.type === 'section' && b.fields) return { ...b, fields: b.fields.map((f: any) => ({ ...f, text: clip(f.text, LIMIT.field) })) };
    return b;
  });
  return { text: clip(msg.text, LIMIT.fallbackText), blocks };
}

function within(view: ApprovalView, budget: TextBudget, build: (fitted: FittedView) => SlackMessage, maxChars = SLACK_MESSAGE_CHARS): SlackMessage {
  const ok = (msg: SlackMessage) => fits(msg) && JSON.stringify(msg.blocks).length <= maxChars;
  const msg = renderWithin(view, budget, build, ok);
  return fits(msg) ? msg : clamp(msg);
}

/**
 * The approval card. Shows every fact of the request, which of them are the agent's claims, and its long texts as far
 * as Slack's limits allow (saying what was shortened and linking the full request); buttons only while it is pending,
 * and once final the outcome, by whom, when and why, so everyone who sees the message reads the same state.
 */
export function renderApprovalCard(view: ApprovalView): SlackMessage {
  return within(view, CARD_BUDGET, approvalMessage);
}

/** The requester's direct message once the request is final. */
export function renderOutcomeNotice(view: ApprovalView): SlackMessage {
  return within(view, CARD_BUDGET, ({ view: v }) => {
    const look = STATUS_WORDS[v.status];
    return {
      text: fallback(`Your request ${v.action} on ${v.resource}: ${summarizeStatus(v)}`),
      blocks: [
        ...sections([`Your request *${mrkdwnLine(v.action)}* on \`${mrkdwnLine(v.resource)}\` was *${look.word.toLowerCase()}*.`]),
        ...sections([outcomeLine(v)]),
        context(`Request \`${v.id}\` · rule ${mrkdwnLine(v.rule)}`),
      ],
    };
  });
}

/** The modal that asks for a reason before the vote is cast. */
export function renderReasonModal(meta: ReasonModalMetadata, reasonMode: ApprovalView['reasonMode'] | undefined): ModalView {
  const deny = meta.decision === 'deny';
  const required = reasonRequired(reasonMode ?? (deny ? 'on-deny' : 'always'), meta.decision);
  return {
    type: 'modal',
    callback_id: REASON_MODAL.callbackId,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: deny ? 'Deny request' : 'Approve request' },
    submit: { type: 'plain_text', text: VOTE_WORDS[meta.decision].button },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      section(`You are about to *${deny ? 'deny' : 'approve'}* request \`${mrkdwnLine(meta.requestId)}\`. The reason is recorded in the audit trail and shown on the card.`),
      {
        type: 'input',
        block_id: REASON_MODAL.blockId,
        optional: !required,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: REASON_MODAL.actionId, multiline: true, max_length: TEXT_LIMITS.reason },
      },
    ],
  };
}

/** Reads the modal's metadata back; undefined when it is not ours or was tampered with into nonsense. */
export function parseReasonMetadata(raw: string | undefined): ReasonModalMetadata | undefined {
  try {
    const m = JSON.parse(raw ?? '') as Partial<ReasonModalMetadata>;
    if (typeof m.requestId !== 'string' || (m.decision !== 'approve' && m.decision !== 'deny')) return undefined;
    return {
      requestId: m.requestId,
      decision: m.decision,
      channelId: typeof m.channelId === 'string' ? m.channelId : undefined,
      responseUrl: typeof m.responseUrl === 'string' ? m.responseUrl : undefined,
    };
  } catch {
    return undefined;
  }
}

// --- command results --------------------------------------------------------------------------------------------

/** One audit event in a line, in the kit's wording; its detail holds outside text, so it is neutralised and held short. */
function eventLine(e: AuditRecord, withRequest: boolean): { line: string; shortened: boolean } {
  const entry = auditLine(e);
  const detail = clip(entry.detail, EVENT_DETAIL);
  const req = withRequest && e.requestId ? ` · request \`${mrkdwnLine(e.requestId)}\`` : '';
  const shown = detail ? ` · ${entry.mark ? `${entry.mark.emoji} ` : ''}${mrkdwnLine(detail)}` : '';
  return {
    line: `• ${slackDate(e.at)} · \`${mrkdwnLine(e.type)}\` · ${mrkdwnLine(entry.actor)} via ${mrkdwnLine(e.channel)}${req}${shown}`,
    shortened: detail !== entry.detail,
  };
}

/**
 * Adds lines to a message in sections, in order, for as long as the message stays within Slack's limits (keeping
 * `reserve` characters for what follows); says how many did not fit.
 */
function fill(msg: SlackMessage, lines: string[], reserve: number): { msg: SlackMessage; omitted: number } {
  let shown = 0;
  let blocks = msg.blocks;
  for (let n = 1; n <= lines.length; n++) {
    const candidate = [...msg.blocks, ...sections(lines.slice(0, n))];
    const next = { ...msg, blocks: candidate };
    if (candidate.length > LIMIT.blocks - 1 || JSON.stringify(candidate).length > SLACK_MESSAGE_CHARS - reserve || !fits(next)) break;
    blocks = candidate;
    shown = n;
  }
  return { msg: { ...msg, blocks }, omitted: lines.length - shown };
}

/** Room kept for the closing note of a list ("12 more events not shown here. Full trail (API)"). */
const NOTE_RESERVE = 400;

/**
 * Renders a chat command's result as an ephemeral Block Kit message.
 * @param command the slash command name (e.g. `/countersign`), for help and paging hints
 * @param text what the user typed after the command, to build the "next page" hint
 */
export function renderCommandResult(result: ChatCommandResult, command: string, text: string): SlackMessage {
  switch (result.kind) {
    case 'help':
      return {
        text: escapeEntities(`${command} commands`),
        blocks: [
          header('Countersign commands'),
          ...sections(result.lines.map((l) => `• \`${escapeEntities(command)} ${escapeEntities(l.split(' — ')[0])}\` — ${escapeEntities(l.split(' — ').slice(1).join(' — '))}`)),
        ],
      };
    case 'refused':
      return { text: replyFallback(result.message), blocks: [section(clipMrkdwn(`:no_entry: ${escapeEntities(result.message)}`, LIMIT.section))] };
    case 'error':
      // Command-service messages quote the user's input in backticks on purpose: keep those, escape the rest.
      return { text: replyFallback(result.message), blocks: [section(clipMrkdwn(`:warning: ${escapeEntities(result.message)}`, LIMIT.section))] };
    case 'pending': {
      const list = pendingList(result.items);
      if (list.entries.length === 0) return { text: list.heading, blocks: [section(`:sparkles: ${list.heading}`)] };
      let msg: SlackMessage = { text: list.heading, blocks: [header(list.heading)] };
      let omitted = 0;
      for (const [i, { view, facts }] of list.entries.entries()) {
        const entry = within(view, ENTRY_BUDGET, ({ view: v }) => ({
          text: '',
          blocks: [...sections([`*${mrkdwnLine(v.action)}* on \`${mrkdwnLine(v.resource)}\`\n${factLine(facts.map((f) => ({ ...f, value: clip(f.value, ENTRY_BUDGET.fact) })))}`]), decisionButtons(v)],
        }));
        const next = { ...msg, blocks: [...msg.blocks, ...entry.blocks] };
        if (next.blocks.length > LIMIT.blocks - 1 || JSON.stringify(next.blocks).length > SLACK_MESSAGE_CHARS - NOTE_RESERVE) {
          omitted = list.entries.length - i;
          break;
        }
        msg = next;
      }
      if (omitted) msg.blocks.push(context(escapeEntities(pendingNote(omitted, `run ${command} pending`))));
      return msg;
    }
    case 'standing': {
      const list = standingList(result.items, `${command} revoke`);
      if (list.entries.length === 0) return { text: escapeEntities(list.heading), blocks: [section(escapeEntities(list.heading))] };
      let msg: SlackMessage = { text: escapeEntities(list.heading), blocks: [header(list.heading)] };
      for (const e of list.entries) {
        const next = { ...msg, blocks: [...msg.blocks, section(clipMrkdwn(`*${mrkdwnLine(e.action)}* on \`${mrkdwnLine(e.resource)}\`\n${factLine(e.facts)}`, LIMIT.section))] };
        // The list is capped by the command's page size; a message that would still overflow shows the first ones.
        if (next.blocks.length > LIMIT.blocks - 1 || JSON.stringify(next.blocks).length > SLACK_MESSAGE_CHARS - NOTE_RESERVE) break;
        msg = next;
      }
      if (list.howToRevoke) msg.blocks.push(context(escapeEntities(list.howToRevoke)));
      return msg;
    }
    case 'revoked':
      return { text: escapeEntities(revokedText(result.item)), blocks: [section(`:white_check_mark: ${escapeEntities(revokedText(result.item))}`)] };
    case 'trail': {
      // Votes are events of the trail: the head shows the request without them.
      const head = within({ ...result.request, votes: [] }, TRAIL_BUDGET, (fitted) => {
        const v = fitted.view;
        return {
          text: fallback(`Audit trail of ${v.id}: ${summarizeStatus(v)}`),
          blocks: [
            header(`Audit trail: ${v.action}`),
            ...claimsContext(v),
            ...shortenedContext(fitted),
            ...factFields(cardFacts(v)),
            ...sections(justificationLines(v)),
            ...sections([outcomeLine(v)]),
            ...(v.context.length ? sections([`*${CLAIM_HEADINGS.context}*`, ...contextLines(v)]) : []),
            { type: 'divider' },
          ],
        };
      }, TRAIL_HEAD_CHARS);
      const events = result.events.map((e) => eventLine(e, false));
      if (!events.length) return { ...head, blocks: [...head.blocks, section('No audit events.')] };
      const { msg, omitted } = fill(head, events.map((e) => e.line), NOTE_RESERVE);
      const shortened = events.slice(0, events.length - omitted).some((e) => e.shortened);
      const notes = eventsNote(omitted, shortened);
      const v = result.request;
      if (notes) msg.blocks.push(context(`${escapeEntities(notes)} ${v.links ? link(v.links.audit, FULL_TEXT.trail) : escapeEntities(FULL_TEXT.noLink(v.id))}`));
      return msg;
    }
    case 'events': {
      const head: SlackMessage = {
        text: fallback(`${result.events.length} audit event(s) for ${result.description}`),
        blocks: [header('Audit look-up'), context(clipMrkdwn(mrkdwnLine(result.description), 1000))],
      };
      if (!result.events.length) return { ...head, blocks: [...head.blocks, section('No matching audit events.')] };
      const base = text.replace(/\s*(page|cursor):\S+/g, '').trim();
      const more = result.nextCursor ? [context(`More results: \`${escapeEntities(command)} ${clipMrkdwn(mrkdwnLine(base), 1000)} page:${mrkdwnLine(result.nextCursor)}\``)] : [];
      const events = result.events.map((e) => eventLine(e, true));
      const { msg, omitted } = fill(head, events.map((e) => e.line), NOTE_RESERVE + JSON.stringify(more).length);
      const shortened = events.slice(0, events.length - omitted).some((e) => e.shortened);
      const notes = eventsNote(omitted, shortened);
      if (notes) msg.blocks.push(context(escapeEntities(`${notes} ${ALL_EVENTS}`)));
      msg.blocks.push(...more);
      return msg;
    }
  }
}

/** An ephemeral answer made of one line of text (vote confirmations and refusals, in the core's words). */
export function renderReply(text: string): SlackMessage {
  return { text: replyFallback(text), blocks: [section(clipMrkdwn(escapeEntities(text), LIMIT.section))] };
}
