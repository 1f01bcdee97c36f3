/**
 * Block Kit rendering. Everything a Slack user sees is built here from channel-neutral objects (ApprovalView, chat
 * replies, command results), so the card, the modal and the slash command answers stay consistent and testable
 * without Slack.
 */
import type { types } from '@slack/bolt';
import type { ApprovalView } from '../../src/domain/approval-view';
import { reasonRequired, type VoteDecision } from '../../src/domain/approval';
import type { AuditRecord } from '../../src/services/audit-service';
import type { ChatCommandResult } from '../../src/services/chat-command-service';
import { summarizeStatus } from '../../src/domain/approval-view';

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
const LIMIT = { header: 150, section: 3000, field: 2000, context: 2000, buttonValue: 2000, blocks: 50 };

/** Escapes the three characters Slack treats as markup, so request data can never ping `<!channel>` or fake a link. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A timestamp every viewer reads in their own time zone; the ISO text is the fallback for old clients. */
export function slackDate(iso: string | null | undefined): string {
  if (!iso) return 'unknown time';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${iso}>`;
}

const STATUS_LOOK: Record<ApprovalView['status'], { emoji: string; word: string }> = {
  pending: { emoji: ':hourglass_flowing_sand:', word: 'Approval needed' },
  approved: { emoji: ':white_check_mark:', word: 'Approved' },
  denied: { emoji: ':x:', word: 'Denied' },
  expired: { emoji: ':alarm_clock:', word: 'Expired' },
  cancelled: { emoji: ':no_entry_sign:', word: 'Cancelled' },
};

const section = (text: string): KnownBlock => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text, LIMIT.section) } });
const context = (text: string): KnownBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(text, LIMIT.context) }] });
const field = (label: string, value: string) => ({ type: 'mrkdwn' as const, text: clip(`*${label}*\n${value}`, LIMIT.field) });

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
  switch (view.status) {
    case 'approved':
      return `${STATUS_LOOK.approved.emoji} *Approved* by ${by} · ${slackDate(view.decidedAt)}${why}`;
    case 'denied':
      return `${STATUS_LOOK.denied.emoji} *Denied* by ${by} · ${slackDate(view.decidedAt)}${why}`;
    case 'expired':
      return `${STATUS_LOOK.expired.emoji} *Expired* without a decision · ${slackDate(view.decidedAt ?? view.expiresAt)}`;
    case 'cancelled':
      return `${STATUS_LOOK.cancelled.emoji} *Cancelled* by the requester · ${slackDate(view.decidedAt)}${why}`;
    case 'pending':
      return `${STATUS_LOOK.pending.emoji} *Waiting for approval:* ${view.approvals} of ${view.approvalsRequired} approvals · expires ${slackDate(view.expiresAt)}`;
  }
}

function voteLines(view: ApprovalView): string[] {
  return view.votes.map((v) => {
    const icon = v.decision === 'approve' ? ':white_check_mark:' : ':x:';
    const verb = v.decision === 'approve' ? 'approved' : 'denied';
    const reason = v.reason ? ` — “${escapeMrkdwn(v.reason)}”` : '';
    return `${icon} *${escapeMrkdwn(v.who)}* ${verb} via ${escapeMrkdwn(v.channel)} · ${slackDate(v.at)}${reason}`;
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
        text: { type: 'plain_text', text: 'Approve', emoji: true },
        style: 'primary',
        value: clip(view.id, LIMIT.buttonValue),
      },
      {
        type: 'button',
        action_id: ACTIONS.deny,
        text: { type: 'plain_text', text: 'Deny', emoji: true },
        style: 'danger',
        value: clip(view.id, LIMIT.buttonValue),
      },
    ],
  };
}

/** One-line summary used as the message's fallback text (notifications, screen readers). */
export function cardText(view: ApprovalView): string {
  const look = STATUS_LOOK[view.status];
  return clip(`${look.word}: ${view.action} on ${view.resource} requested by ${view.requesterLabel} — ${summarizeStatus(view)}`, 3000);
}

/**
 * The approval card. Shows every fact of the request; buttons only while it is pending, and once final the
 * outcome, by whom, when and why, so everyone who sees the message reads the same state.
 */
export function renderApprovalCard(view: ApprovalView): SlackMessage {
  const look = STATUS_LOOK[view.status];
  const blocks: KnownBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`${look.word}: ${view.action}`, LIMIT.header), emoji: true } },
    section(outcomeLine(view)),
    {
      type: 'section',
      fields: [
        field('Requester', escapeMrkdwn(view.requesterLabel)),
        field('On behalf of', view.onBehalfOfLabel ? escapeMrkdwn(view.onBehalfOfLabel) : '—'),
        field('Resource', escapeMrkdwn(view.resource)),
        field('Environment', view.environment ? escapeMrkdwn(view.environment) : '—'),
        field('Risk', view.risk ? escapeMrkdwn(view.risk) : '—'),
        field('Matched rule', escapeMrkdwn(view.rule)),
        field('Approvals', `${view.approvals} of ${view.approvalsRequired}`),
        field('Expires', slackDate(view.expiresAt)),
      ],
    },
  ];
  const middle: KnownBlock[] = [];
  if (view.justification) middle.push(section(`*Justification*\n>${escapeMrkdwn(view.justification).replace(/\n/g, '\n>')}`));
  if (view.context.length) middle.push(...sections(['*Context*', ...contextLines(view)]));
  if (view.votes.length) middle.push(...sections(['*Votes*', ...voteLines(view)]));
  const tail: KnownBlock[] = [];
  if (!view.final) tail.push(decisionButtons(view));
  const footer = [`Request \`${view.id}\``];
  if (view.approverGroups.length) footer.push(`approvers: ${escapeMrkdwn(view.approverGroups.join(', '))}`);
  if (view.traceId) footer.push(`trace \`${escapeMrkdwn(view.traceId)}\``);
  tail.push(context(footer.join(' · ')));
  // The buttons and the request id must survive Slack's 50-block limit: trim the long middle part instead.
  const room = LIMIT.blocks - blocks.length - tail.length;
  if (middle.length > room) {
    const shown = middle.slice(0, room - 1);
    middle.splice(0, middle.length, ...shown, context(`Some context was cut to fit Slack's limits; \`audit ${view.id}\` shows everything.`));
  }
  return { text: cardText(view), blocks: [...blocks, ...middle, ...tail] };
}

/** The requester's direct message once the request is final. */
export function renderOutcomeNotice(view: ApprovalView): SlackMessage {
  const look = STATUS_LOOK[view.status];
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
    submit: { type: 'plain_text', text: deny ? 'Deny' : 'Approve' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      section(`You are about to *${deny ? 'deny' : 'approve'}* request \`${meta.requestId}\`. The reason is recorded in the audit trail and shown on the card.`),
      {
        type: 'input',
        block_id: REASON_MODAL.blockId,
        optional: !required,
        label: { type: 'plain_text', text: 'Reason' },
        element: { type: 'plain_text_input', action_id: REASON_MODAL.actionId, multiline: true, max_length: 2000 },
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

function actorLabel(e: AuditRecord): string {
  return escapeMrkdwn(e.actor.label ? `${e.actor.label} (${e.actor.key})` : e.actor.key);
}

/** What one audit event says, in a line. */
function eventDetail(e: AuditRecord): string {
  const d = e.data ?? {};
  const reason = typeof d.reason === 'string' && d.reason ? ` — “${escapeMrkdwn(d.reason)}”` : '';
  switch (e.type) {
    case 'vote.cast':
      return `${d.decision === 'deny' ? ':x: denied' : ':white_check_mark: approved'}${reason}`;
    case 'vote.refused':
      return `:no_entry: refused (${escapeMrkdwn(String(d.refusal ?? 'refused'))}, tried to ${escapeMrkdwn(String(d.attempted ?? 'vote'))}): ${escapeMrkdwn(String(d.message ?? ''))}`;
    case 'request.decided':
      return `*${escapeMrkdwn(String(d.status ?? 'decided'))}* by ${escapeMrkdwn(String(d.by ?? 'unknown'))}${reason}`;
    case 'request.submitted':
      return 'submitted';
    case 'policy.matched':
      return `rule ${escapeMrkdwn(String(d.rule ?? ''))} → ${escapeMrkdwn(String(d.outcome ?? ''))}`;
    default: {
      const target = typeof d.target === 'string' ? ` ${escapeMrkdwn(d.target)}` : '';
      const error = typeof d.error === 'string' ? `: ${escapeMrkdwn(d.error)}` : '';
      return `${target}${error}${reason}`.trim();
    }
  }
}

function eventLine(e: AuditRecord, withRequest: boolean): string {
  const req = withRequest && e.requestId ? ` · request \`${e.requestId}\`` : '';
  const detail = eventDetail(e);
  return `• ${slackDate(e.at)} · \`${escapeMrkdwn(e.type)}\` · ${actorLabel(e)} via ${escapeMrkdwn(e.channel)}${req}${detail ? ` · ${detail}` : ''}`;
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
      if (result.items.length === 0) return { text: 'Nothing is waiting for your approval.', blocks: [section(':sparkles: Nothing is waiting for your approval.')] };
      const blocks: KnownBlock[] = [{ type: 'header', text: { type: 'plain_text', text: `Waiting for you (${result.items.length})` } }];
      for (const v of result.items.slice(0, 24)) {
        blocks.push(section(
          `*${escapeMrkdwn(v.action)}* on \`${escapeMrkdwn(v.resource)}\`\nrequested by ${escapeMrkdwn(v.requesterLabel)}` +
            `${v.onBehalfOfLabel ? ` for ${escapeMrkdwn(v.onBehalfOfLabel)}` : ''} · ${v.approvals} of ${v.approvalsRequired} approvals · expires ${slackDate(v.expiresAt)}\nRequest \`${v.id}\``,
        ));
        blocks.push(decisionButtons(v));
      }
      return { text: `${result.items.length} request(s) waiting for your approval`, blocks: capBlocks(blocks) };
    }
    case 'trail': {
      const v = result.request;
      const head: string[] = [
        `*Request* \`${v.id}\``,
        `*Requested by* ${escapeMrkdwn(v.requesterLabel)}${v.onBehalfOfLabel ? ` on behalf of ${escapeMrkdwn(v.onBehalfOfLabel)}` : ''} · ${slackDate(v.createdAt)}`,
        `*Resource* \`${escapeMrkdwn(v.resource)}\`${v.environment ? ` · ${escapeMrkdwn(v.environment)}` : ''}${v.risk ? ` · risk ${escapeMrkdwn(v.risk)}` : ''} · rule ${escapeMrkdwn(v.rule)}`,
      ];
      if (v.justification) head.push(`*Justification* ${escapeMrkdwn(v.justification)}`);
      const blocks: KnownBlock[] = [
        { type: 'header', text: { type: 'plain_text', text: clip(`Audit trail: ${v.action}`, LIMIT.header) } },
        ...sections(head),
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
