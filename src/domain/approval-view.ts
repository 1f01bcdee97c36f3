/**
 * The channel-neutral picture of a request that every chat card shows. Slack and Teams render this same object, so
 * both show the same facts and neither can drift from the core's state.
 */
import { stageProgress, type CountedVote } from './approval';
import { displayName, type PersonIdentity, type RequesterIdentity } from './identity';
import type { BudgetExhaustion, Quorum, ReasonMode, Requirement, Risk } from './policy';
import { countApprovals, isFinal, stateVersion, type RequestStatus } from './request-lifecycle';
import { isMasked, renderContextValue, type StoredContext } from './context-values';

export interface ApprovalViewVote {
  who: string;
  personKey: string;
  decision: 'approve' | 'deny';
  channel: string;
  reason: string | null;
  at: string;
}

export interface ApprovalView {
  id: string;
  status: RequestStatus;
  final: boolean;
  action: string;
  resource: string;
  environment: string | null;
  risk: Risk | null;
  justification: string | null;
  requester: RequesterIdentity;
  requesterLabel: string;
  onBehalfOf: PersonIdentity | null;
  onBehalfOfLabel: string | null;
  context: { key: string; value: string; masked: boolean }[];
  rule: string;
  approvalsRequired: number;
  approvals: number;
  approverGroups: string[];
  reasonMode: ReasonMode;
  /** Set when a routine rule's budget was spent, which is why people decide this request. */
  budgetExhausted: BudgetExhaustion | null;
  /** Set once the request was escalated (a rule's `escalate`): when, and the groups added as approvers. */
  escalated: { at: string; to: string[] } | null;
  /**
   * For per-group quorums and ordered stages: the stage being asked (1-based; `total` + 1 once all approved) and what it
   * still needs by group (null group: any of the stage's groups). Null for a plain rule.
   */
  stage: { index: number; total: number; name: string | null; approvers: string[]; missing: Quorum[] } | null;
  /** The standing approval an approver may give with their approval (the rule's bounds), or null when none. */
  standing: { maxForSeconds: number; maxUses: number } | null;
  votes: ApprovalViewVote[];
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  decisionReason: string | null;
  traceId: string | null;
  /**
   * The request's fields the submitting agent stated and no API key pinned: its claims, which Countersign did not
   * verify (see {@link REQUEST_CLAIMS}). Cards and the trail say so.
   */
  assertedFields: RequestClaim[];
  /** The request's fields the submitting API key pinned: set by whoever configured the key, not by the agent. */
  pinnedFields: RequestClaim[];
  /** Where the whole request and its trail can be read (the API), for cards that had to shorten them; null when unknown. */
  links: { request: string; audit: string } | null;
  /** Changes whenever anything a card shows changes: lets update jobs detect a stale render. */
  version: string;
}

export interface ApprovalViewSource {
  id: string;
  status: RequestStatus;
  action: string;
  resource: string;
  environment: string | null;
  risk: Risk | null;
  justification: string | null;
  requester: RequesterIdentity;
  onBehalfOf: PersonIdentity | null;
  context: StoredContext;
  policyRule: string;
  approvalsRequired: number;
  requirement: (Pick<Requirement, 'approvers' | 'reason'> & Partial<Requirement>) | null;
  createdAt: Date;
  expiresAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  decisionReason: string | null;
  traceId: string | null;
  /** Fields the submitting key pinned (`requester.id`, `requester.type`, `environment`); none when absent. */
  pinnedFields?: string[];
  links?: { request: string; audit: string } | null;
}

/**
 * The fields of a request a card shows that come from the submitting agent's body, in the API's names. Each is the
 * agent's claim unless its key pins it. (The model and the trace id are the agent's word as well, though no key can
 * pin them.)
 */
export const REQUEST_CLAIMS = [
  'action', 'resource', 'environment', 'risk', 'requester.id', 'requester.type', 'requester.identities', 'requester.model',
  'onBehalfOf', 'justification', 'context', 'traceId',
] as const;
export type RequestClaim = (typeof REQUEST_CLAIMS)[number];

/** The claims this request makes: the fields it has a value for. */
function claimsOf(src: ApprovalViewSource): RequestClaim[] {
  const r = src.requester;
  const present: Record<RequestClaim, boolean> = {
    action: true,
    resource: true,
    environment: src.environment !== null,
    risk: src.risk !== null,
    'requester.id': true,
    'requester.type': true,
    'requester.identities': Boolean(r.email || r.slackUserId || r.teamsUserId || r.name),
    'requester.model': Boolean(r.model),
    onBehalfOf: src.onBehalfOf !== null,
    justification: Boolean(src.justification),
    context: Object.keys(src.context ?? {}).length > 0,
    traceId: Boolean(src.traceId),
  };
  return REQUEST_CLAIMS.filter((c) => present[c]);
}

function stageOf(requirement: ApprovalViewSource['requirement'], votes: CountedVote[]): ApprovalView['stage'] {
  if (!requirement?.stages?.length) return null;
  const progress = stageProgress(requirement as Requirement, votes);
  const stage = progress.stages[Math.min(progress.current, progress.stages.length - 1)];
  return { index: progress.current + 1, total: progress.stages.length, name: stage.name ?? null, approvers: stage.approvers, missing: progress.missing };
}

/** `src.status` should be the request's effective status (see effectiveStatus), so cards and the API agree. */
export function buildApprovalView(src: ApprovalViewSource, votes: CountedVote[]): ApprovalView {
  const sorted = [...votes].sort((a, b) => a.at.getTime() - b.at.getTime());
  const pinned = new Set(src.pinnedFields ?? []);
  return {
    id: src.id,
    status: src.status,
    final: isFinal(src.status),
    action: src.action,
    resource: src.resource,
    environment: src.environment,
    risk: src.risk,
    justification: src.justification,
    requester: src.requester,
    requesterLabel: `${displayName(src.requester)} (${src.requester.type}${src.requester.model ? `, model ${src.requester.model}` : ''})`,
    onBehalfOf: src.onBehalfOf,
    onBehalfOfLabel: src.onBehalfOf ? displayName(src.onBehalfOf) : null,
    context: Object.entries(src.context ?? {}).map(([key, v]) => ({ key, value: renderContextValue(v), masked: isMasked(v) })),
    rule: src.policyRule,
    approvalsRequired: src.approvalsRequired,
    approvals: countApprovals(votes),
    approverGroups: src.requirement?.approvers ?? [],
    reasonMode: src.requirement?.reason ?? 'none',
    budgetExhausted: src.requirement?.budgetExhausted ?? null,
    escalated: src.requirement?.escalatedAt && src.requirement.escalate ? { at: src.requirement.escalatedAt, to: src.requirement.escalate.to } : null,
    stage: stageOf(src.requirement, sorted),
    standing: src.requirement?.standing && !src.requirement.alwaysAsk ? src.requirement.standing : null,
    votes: sorted.map((v) => ({
      who: displayName(v.approver),
      personKey: v.personKey,
      decision: v.decision,
      channel: v.channel,
      reason: v.reason ?? null,
      at: v.at.toISOString(),
    })),
    createdAt: src.createdAt.toISOString(),
    expiresAt: src.expiresAt.toISOString(),
    decidedAt: src.decidedAt?.toISOString() ?? null,
    decidedBy: src.decidedBy,
    decisionReason: src.decisionReason,
    traceId: src.traceId,
    assertedFields: claimsOf(src).filter((c) => !pinned.has(c)),
    pinnedFields: claimsOf(src).filter((c) => pinned.has(c)),
    links: src.links ?? null,
    // An escalation changes what a pending card shows without a vote: its own version, so cards are re-rendered.
    version: `${stateVersion(src.status, votes.length)}${src.status === 'pending' && src.requirement?.escalatedAt ? ':escalated' : ''}`,
  };
}

/** One line that says where a request stands, for card headers and notifications. */
export function summarizeStatus(view: ApprovalView): string {
  switch (view.status) {
    case 'pending':
      return `Waiting for approval: ${view.approvals} of ${view.approvalsRequired} approvals`;
    case 'approved':
      return `Approved by ${view.decidedBy ?? 'policy'} at ${view.decidedAt}`;
    case 'denied':
      return `Denied by ${view.decidedBy ?? 'policy'} at ${view.decidedAt}${view.decisionReason ? `: ${view.decisionReason}` : ''}`;
    case 'expired':
      return `Expired at ${view.decidedAt ?? view.expiresAt} without a decision`;
    case 'cancelled':
      return `Cancelled by the requester at ${view.decidedAt}`;
  }
}
