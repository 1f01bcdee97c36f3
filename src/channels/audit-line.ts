/**
 * What one audit event says in a line, for the `audit` chat command on every platform: who acted, a mark for votes and
 * refusals, and the event's own facts in words (a submission says which of its fields the agent merely asserted). The
 * text is raw and holds outside text (names, resources, reasons); each renderer escapes it and lays the line out.
 */
import type { AuditRecord } from '../services/audit-service';
import { REFUSED_MARK, VOTE_WORDS, type ChatMark } from './status-words';
import { clip, TEXT_LIMITS } from './text-limits';

export interface AuditLine {
  /** `label (key)`, or the key alone. */
  actor: string;
  /** Votes and refusals carry a mark; other events none. */
  mark: ChatMark | null;
  /** The event's facts in words; '' when it has none worth a line. */
  detail: string;
}

const str = (v: unknown): string => clip(String(v ?? ''), TEXT_LIMITS.auditValue);
const quoted = (reason: unknown): string => (typeof reason === 'string' && reason ? ` — “${clip(reason, TEXT_LIMITS.reason)}”` : '');

/** The event's plain values as `key: value`, skipping nested objects (identities, context) that do not fit a line. */
function plainFacts(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([, v]) => v !== null && v !== undefined && ['string', 'number', 'boolean'].includes(typeof v))
    .map(([k, v]) => `${k}: ${str(v)}`)
    .join(' · ');
}

export function auditLine(e: Pick<AuditRecord, 'type' | 'actor' | 'data'>): AuditLine {
  const d = e.data ?? {};
  const actor = e.actor.label ? `${e.actor.label} (${e.actor.key})` : e.actor.key;
  switch (e.type) {
    case 'vote.cast': {
      const vote = VOTE_WORDS[d.decision === 'deny' ? 'deny' : 'approve'];
      return { actor, mark: vote, detail: `${vote.verb}${quoted(d.reason)}` };
    }
    case 'vote.refused': {
      const message = typeof d.message === 'string' && d.message ? ` · ${clip(d.message, TEXT_LIMITS.reason)}` : '';
      return { actor, mark: REFUSED_MARK, detail: `tried to ${str(d.attempted ?? 'vote')} · refusal: ${str(d.refusal ?? 'refused')}${message}` };
    }
    case 'request.decided':
      return { actor, mark: null, detail: `${str(d.status ?? 'decided')} by ${str(d.by ?? 'unknown')}${quoted(d.reason)}` };
    case 'request.submitted': {
      const claims = Array.isArray(d.asserted) && d.asserted.length ? ` · asserted by the agent, not verified: ${str(d.asserted.join(', '))}` : '';
      const pinned = Array.isArray(d.pinned) && d.pinned.length ? ` · pinned by its API key: ${str(d.pinned.join(', '))}` : '';
      return { actor, mark: null, detail: `${d.action ? `submitted ${str(d.action)} on ${str(d.resource)}` : 'submitted'}${claims}${pinned}` };
    }
    case 'chat.refused':
      return { actor, mark: REFUSED_MARK, detail: `tried to ${str(d.attempted ?? 'act')} · refusal: ${str(d.refusal ?? 'refused')}` };
    case 'policy.matched':
      return { actor, mark: null, detail: `rule ${str(d.rule)} → ${str(d.outcome)}` };
    case 'policy.budget_exhausted':
      return { actor, mark: null, detail: `budget exhausted: rule ${str(d.rule)} approves at most ${str(d.count)} per ${str(d.per)} → ${str(d.escalatedTo)}` };
    case 'request.stage_advanced':
      return { actor, mark: null, detail: `stage ${str(d.stage)} of ${str(d.of)} asked: ${str(Array.isArray(d.approvers) ? d.approvers.join(', ') : d.approvers)}` };
    case 'standing_approval.granted':
      return { actor, mark: null, detail: `granted standing approval ${str(d.standingApprovalId)}: ${str(d.uses)} uses until ${str(d.expiresAt)}` };
    case 'standing_approval.used':
      return { actor, mark: null, detail: `approved by standing approval ${str(d.standingApprovalId)} of ${str(d.grantedBy)} · uses left: ${str(d.usesLeft)}` };
    case 'standing_approval.revoked':
      return { actor, mark: null, detail: `revoked standing approval ${str(d.standingApprovalId)}${quoted(d.reason)}` };
    default:
      return { actor, mark: null, detail: plainFacts(d) };
  }
}
