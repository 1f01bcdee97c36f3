/**
 * Block Kit rendering. Everything a Slack user sees is built here from channel-neutral objects (ApprovalView, chat
 * replies, command results), so the card, the modal and the slash command answers stay consistent and testable
 * without Slack.
 */
import type { types } from '@slack/bolt';
import { auditLine } from '../../src/channels/audit-line';
import { cardFacts, type CardFact } from '../../src/channels/card-facts';
import { pendingList } from '../../src/channels/pending-list';
import { STATUS_WORDS, VOTE_WORDS } from '../../src/channels/status-words';
import { clip, TEXT_LIMITS } from '../../src/channels/text-limits';
import { reasonRequired, type VoteDecision } from '../../src/domain/approval';
import { summarizeStatus, type ApprovalView } from '../../src/domain/approval-view';
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

// Slack's documented size limits; longer text makes the whole call fail with invalid_blocks.
const LIMIT = { header: 150, section: 3000, field: 2000, fieldsPerSection: 10, context: 2000, buttonValue: 2000, blocks: 50 };

/** Escapes the three characters Slack treats as markup, so request data can never ping `<!channel>` or fake a link. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A timestamp every viewer reads in their own time zone; the ISO text is the fallback for old clients. */
export function slackDate(iso: string | null | undefined): string {
  if (!iso) return 'unknown time';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${iso}>`;
}

const section = (text: string): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text, LIMIT.section) } });
const context = (text: string): KnownBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(text, LIMIT.context) }] });

/** A fact's value in mrkdwn: agent text escaped, times in the viewer's zone, identifiers in code. */
function factValue(f: CardFact): string {
  if (f.kind === 'time') return slackDate(f.value);
  if (f.kind === 'id') return `\`${escapeMrkdwn(f.value)}\``;
  return escapeMrkdwn(f.value);
}

/** Facts as two-column fields, in as many sections as Slack's ten-fields-per-section limit needs. */
function factFields(facts: CardFact[]): KnownBlock[] {
  const out: KnownBlock[] = [];
  for (let i = 0; i < facts.length; i += LIMIT.fieldsPerSection) {
    out.push({
      type: 'section',
      fields: facts.slice(i, i + LIMIT.fieldsPerSection).map((f) => ({ type: 'mrkdwn' as const, text: clip(`*${f.label}*\n${factValue(f)}`, LIMIT.field) })),
    });
  }
  return out;
}

/** Facts as one line, for list entries. */
const factLine = (facts: CardFact[]): string => facts.map((f) => `*${f.label}* ${factValue(f)}`).join(' · ');

/** Packs lines into as few sections as the 3000-character limit allows. */
function sections(lines: string[]): KnownBlock[] {
  const out: KnownBlock[] = [];
  let current = '';
  for (const line of lines) {
    const l = clip(line, LIMIT.section);
    if (current && current.length + 1 + l.length > LIMIT.section) {
      out.push(section(current));
      current = l;
    } else current = current ? `${current}\n${l}` : l;
  }
  if (current) out.push(section(current));
  return out;
}

/** The outcome line shown on a final card and in the requester's DM: what happened, by whom, when and why. */
export function outcomeLine(view: ApprovalView): string {
  const by = escapeMrkdwn(view.decidedBy ?? 'policy');
  const why = view.decisionReason ? `\n>${escapeMrkdwn(view.decisionReason).replace(/\n/g, '\n>')}` : '';
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
    const reason = v.reason ? ` — “${escapeMrkdwn(v.reason)}”` : '';
    return `${vote.emoji} *${escapeMrkdwn(v.who)}* ${vote.verb} via ${escapeMrkdwn(v.channel)} · ${slackDate(v.at)}${reason}`;
  });
}

function contextLines(view: ApprovalView): string[] {
  return view.context.map((c) => `• *${escapeMrkdwn(c.key)}*: ${c.masked ? ':lock: ' : ''}${escapeMrkdwn(c.value)}`);
}

/** The Approve/Deny buttons for a pending request (also used by the `pending` command). */
export function decisionButtons(view: Pick<ApprovalView, 'id' | 'reasonMode'>): KnownBlock {
  return {
    type: 'actions',
    block_id: clip(`countersign_decide:${view.id}`, 255),
    elements: [
      {
        type: 'button',
        action_id: view.reasonMode === 'always' ? ACTIONS.approveWithReason : ACTIONS.approve,
        text: { type: 'plain_text', text: VOTE_WORDS.approve.button, emoji: true },
        style: 'primary',
        value: clip(view.id, LIMIT.buttonValue),
      },
      {
        type: 'button',
        action_id: ACTIONS.deny,
        text: { type: 'plain_text', text: VOTE_WORDS.deny.button, emoji: true },
        style: 'danger',
        value: clip(view.id, LIMIT.buttonValue),
      },
    ],
  };
}

/** One-line summary used as the message's fallback text (notifications, screen readers). */
export function cardText(view: ApprovalView): string {
  const look = STATUS_WORDS[view.status];
  return clip(`${look.word}: ${view.action} on ${view.resource} requested by ${view.requesterLabel} — ${summarizeStatus(view)}`, 3000);
}

/**
 * The approval card. Shows every fact of the request; buttons only while it is pending, and once final the
 * outcome, by whom, when and why, so everyone who sees the message reads the same state.
 */
export function renderApprovalCard(view: ApprovalView): SlackMessage {
  const look = STATUS_WORDS[view.status];
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`${look.word}: ${view.action}`, LIMIT.header), emoji: true } },
    section(outcomeLine(view)),
    ...factFields(cardFacts(view)),
  ];
  const middle: KnownBlock[] = [];
  if (view.justification) middle.push(section(`*Justification*\n>${escapeMrkdwn(view.justification).replace(/\n/g, '\n>')}`));
  if (view.context.length) middle.push(...sections(['*Context*', ...contextLines(view)]));
  if (view.votes.length) middle.push(...sections(['*Votes*', ...voteLines(view)]));
  const tail: KnownBlock[] = view.final ? [] : [decisionButtons(view)];
  // The facts (request id included) and the buttons must survive Slack's 50-block limit: trim the long middle instead.
  const room = LIMIT.blocks - blocks.length - tail.length;
  if (middle.length > room) {
    const shown = middle.slice(0, room - 1);
    middle.splice(0, middle.length, ...shown, context(`Some context was cut to fit Slack's limits; \`audit ${view.id}\` shows everything.`));
  }
  return { text: cardText(view), blocks: [...blocks, ...middle, ...tail] };
}

/** The requester's direct message once the request is final. */
export function renderOutcomeNotice(view: ApprovalView): SlackMessage {
  const look = STATUS_WORDS[view.status];
  const blocks: KnownBlock[] = [
    section(`Your request *${escapeMrkdwn(view.action)}* on \`${escapeMrkdwn(view.resource)}\` was *${look.word.toLowerCase()}*.`),
    section(outcomeLine(view)),
    context(`Request \`${view.id}\` · rule ${escapeMrkdwn(view.rule)}`),
  ];
  return { text: clip(`Your request ${view.action} on ${view.resource}: ${summarizeStatus(view)}`, 3000), blocks };
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
      section(`You are about to *${deny ? 'deny' : 'approve'}* request \`${meta.requestId}\`. The reason is recorded in the audit trail and shown on the card.`),
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

/** Slack refuses messages with more than 50 blocks: keep the first 49 and say so. */
function capBlocks(blocks: KnownBlock[]): KnownBlock[] {
  if (blocks.length <= LIMIT.blocks) return blocks;
  return [...blocks.slice(0, LIMIT.blocks - 1), context(`${blocks.length - LIMIT.blocks + 1} more sections not shown.`)];
}

/** One audit event in a line, in the kit's wording. */
function eventLine(e: AuditRecord, withRequest: boolean): string {
  const line = auditLine(e);
  const req = withRequest && e.requestId ? ` · request \`${e.requestId}\`` : '';
  const detail = line.detail ? ` · ${line.mark ? `${line.mark.emoji} ` : ''}${escapeMrkdwn(line.detail)}` : '';
  return `• ${slackDate(e.at)} · \`${escapeMrkdwn(e.type)}\` · ${escapeMrkdwn(line.actor)} via ${escapeMrkdwn(e.channel)}${req}${detail}`;
}

/**
 * Renders a chat command's result as an ephemeral Block Kit message.
 * @param command the slash command name (e.g. `/countersign`), for help and paging hints
 * @param text what the user typed after the command, to build the "next page" hint
 */
export function renderCommandResult(result: ChatCommandResult, command: string, text: string): SlackMessage {
  switch (result.kind) {
    case 'help':
      return {
        text: `${command} commands`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'Countersign commands' } },
          ...sections(result.lines.map((l) => `• \`${command} ${escapeMrkdwn(l.split(' — ')[0])}\` — ${escapeMrkdwn(l.split(' — ').slice(1).join(' — '))}`)),
        ],
      };
    case 'refused':
      return { text: result.message, blocks: [section(`:no_entry: ${escapeMrkdwn(result.message)}`)] };
    case 'error':
      // Command-service messages quote the user's input in backticks on purpose: keep those, escape the rest.
      return { text: result.message, blocks: [section(`:warning: ${escapeMrkdwn(result.message)}`)] };
    case 'pending': {
      const list = pendingList(result.items);
      if (list.entries.length === 0) return { text: list.heading, blocks: [section(`:sparkles: ${list.heading}`)] };
      const blocks: KnownBlock[] = [{ type: 'header', text: { type: 'plain_text', text: clip(list.heading, LIMIT.header) } }];
      // Two blocks an entry: 24 fit under the 50-block limit with the header.
      for (const { view, facts } of list.entries.slice(0, 24)) {
        blocks.push(section(`*${escapeMrkdwn(view.action)}* on \`${escapeMrkdwn(view.resource)}\`\n${factLine(facts)}`));
        blocks.push(decisionButtons(view));
      }
      return { text: list.heading, blocks: capBlocks(blocks) };
    }
    case 'trail': {
      const v = result.request;
      const blocks: KnownBlock[] = [
        { type: 'header', text: { type: 'plain_text', text: clip(`Audit trail: ${v.action}`, LIMIT.header) } },
        ...factFields(cardFacts(v)),
        ...(v.justification ? sections([`*Justification* ${escapeMrkdwn(v.justification)}`]) : []),
        section(outcomeLine(v)),
      ];
      if (v.context.length) blocks.push(...sections(['*Context*', ...contextLines(v)]));
      blocks.push({ type: 'divider' });
      blocks.push(...sections(result.events.length ? result.events.map((e) => eventLine(e, false)) : ['No audit events.']));
      return { text: `Audit trail of ${v.id}: ${summarizeStatus(v)}`, blocks: capBlocks(blocks) };
    }
    case 'events': {
      const blocks: KnownBlock[] = [
        { type: 'header', text: { type: 'plain_text', text: 'Audit look-up' } },
        context(escapeMrkdwn(result.description)),
        ...sections(result.events.length ? result.events.map((e) => eventLine(e, true)) : ['No matching audit events.']),
      ];
      if (result.nextCursor) {
        const base = text.replace(/\s*(page|cursor):\S+/g, '').trim();
        blocks.push(context(`More results: \`${command} ${escapeMrkdwn(base)} page:${result.nextCursor}\``));
      }
      return { text: `${result.events.length} audit event(s) for ${result.description}`, blocks: capBlocks(blocks) };
    }
  }
}

/** An ephemeral answer made of one line of text (vote confirmations and refusals). */
export function renderReply(text: string): SlackMessage {
  return { text, blocks: [section(escapeMrkdwn(text))] };
}
