/** What an approval request came to, in the terms an agent acts on: approved or not, by whom, why, and the grant. */
import type { ApprovalRequest, IntakeAnswer } from './generated/api-types.js';

export type ApprovalStatus = ApprovalRequest['status'];

/** A request as the service answers it, with the grant the service adds once it is approved (when it issues grants). */
export type ApprovalRequestWithGrant = ApprovalRequest & { grant?: string | null };

/** One approval request's state, as {@link CountersignClient.requestApproval} and {@link CountersignClient.waitForDecision} return it. */
export interface Approval {
  id: string;
  status: ApprovalStatus;
  /** True only when the service approved the request (by people or by policy). Never true for anything else. */
  approved: boolean;
  /** Approved, denied, expired or cancelled: the status will not change any more. */
  final: boolean;
  /** Still pending when the caller's deadline passed. */
  timedOut: boolean;
  /** The policy rule that matched. */
  rule: string;
  /** Who decided: `policy`, or the deciding person; null while pending. */
  decidedBy: string | null;
  /** The denial or policy reason, if any. */
  reason: string | null;
  /** The people whose approvals counted, and any who denied (person ids or labels). */
  approvers: string[];
  deniers: string[];
  /** The signed grant (compact JWS) of an approved request, when the service issues grants. */
  grant: string | null;
  /** One line for people and models: "approved by alice@example.com", "denied by carol: too broad", … */
  summary: string;
  /** The full request, when the client read it (always after waiting). */
  request?: ApprovalRequestWithGrant;
}

function who(v: ApprovalRequest['votes'][number]): string {
  return v.approver.email ?? v.approver.name ?? v.personKey;
}

export function summarize(a: Pick<Approval, 'status' | 'decidedBy' | 'reason' | 'approvers' | 'deniers' | 'timedOut' | 'id'>): string {
  const reason = a.reason ? `: ${a.reason}` : '';
  switch (a.status) {
    case 'approved':
      return `approved by ${a.approvers.length ? a.approvers.join(', ') : (a.decidedBy ?? 'policy')}`;
    case 'denied':
      return `denied by ${a.deniers.length ? a.deniers.join(', ') : (a.decidedBy ?? 'policy')}${reason}`;
    case 'expired':
      return 'expired: no decision before the request expired';
    case 'cancelled':
      return `cancelled${reason}`;
    default:
      return a.timedOut ? `still pending (request ${a.id}): not approved yet` : `pending (request ${a.id})`;
  }
}

export function fromDetail(r: ApprovalRequestWithGrant, timedOut = false): Approval {
  const approvers = r.votes.filter((v) => v.decision === 'approve').map(who);
  const deniers = r.votes.filter((v) => v.decision === 'deny').map(who);
  const reason = r.decisionReason ?? r.votes.find((v) => v.decision === 'deny' && v.reason)?.reason ?? null;
  const base = { id: r.id, status: r.status, decidedBy: r.decidedBy, reason, approvers, deniers, timedOut: r.status === 'pending' && timedOut };
  return {
    ...base,
    approved: r.status === 'approved',
    final: r.status !== 'pending',
    rule: r.policy.rule,
    grant: r.status === 'approved' ? (r.grant ?? null) : null,
    summary: summarize(base),
    request: r,
  };
}

export function fromIntake(a: IntakeAnswer): Approval {
  const base = { id: a.id, status: a.status, decidedBy: a.status === 'pending' ? null : 'policy', reason: a.reason ?? null, approvers: [], deniers: [], timedOut: false };
  return { ...base, approved: a.status === 'approved', final: a.status !== 'pending', rule: a.rule, grant: null, summary: summarize(base) };
}
