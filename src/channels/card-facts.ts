/**
 * The facts a card shows about a request, in order and with their labels: one list for the Slack card, the Teams
 * card and both `audit` trails, so no platform can show a fact another lacks or name it differently. Each fact says
 * whether it is the agent's claim (or was pinned by its API key), and {@link claimsLine} says which parts of the
 * request are claims, in the same words on every platform. Values are raw: renderers escape them (they are outside
 * text, see agent-text.ts) and format times for the viewer's time zone.
 */
import type { ApprovalView, RequestClaim } from '../domain/approval-view';
import { formatDuration } from '../domain/duration';
import type { ReasonMode } from '../domain/policy';

/** Where a fact's value comes from: the agent's word, the API key's pin, or Countersign itself (null). */
export type FactSource = 'asserted' | 'pinned' | null;

export interface CardFact {
  label: string;
  value: string;
  /** `time`: an ISO timestamp to show in the viewer's zone; `id`: an identifier to show verbatim; `text`: words. */
  kind: 'text' | 'time' | 'id';
  source: FactSource;
}

/** The marks renderers put after a fact that is not Countersign's own. */
export const SOURCE_MARK: Record<'asserted' | 'pinned', string> = {
  asserted: '(asserted)',
  pinned: '(pinned by the API key)',
};

/** Section headings for the parts of a card that are the agent's words as a whole. */
export const CLAIM_HEADINGS = {
  justification: 'Justification (asserted by the agent)',
  context: 'Context (asserted by the agent)',
} as const;

/** Each claim in the words the claims line uses (requester fields read as one). */
const CLAIM_WORDS: Record<RequestClaim, string> = {
  action: 'action',
  resource: 'resource',
  environment: 'environment',
  risk: 'risk',
  'requester.id': 'requester',
  'requester.type': 'requester',
  'requester.identities': 'requester',
  'requester.model': 'model',
  onBehalfOf: 'on behalf of',
  justification: 'justification',
  context: 'context',
  traceId: 'trace id',
};

/** The request fields behind each fact that can be a claim. */
const FACT_CLAIMS: Record<string, RequestClaim[]> = {
  Action: ['action'],
  Resource: ['resource'],
  Environment: ['environment'],
  Risk: ['risk'],
  'Requested by': ['requester.id', 'requester.type', 'requester.identities', 'requester.model'],
  'On behalf of': ['onBehalfOf'],
  'Trace id': ['traceId'],
};

function sourceOf(view: Pick<ApprovalView, 'assertedFields' | 'pinnedFields'>, label: string): FactSource {
  const fields = FACT_CLAIMS[label];
  if (!fields) return null;
  if (fields.some((f) => view.assertedFields.includes(f))) return 'asserted';
  return fields.some((f) => view.pinnedFields.includes(f)) ? 'pinned' : null;
}

/** What the rule asks of a reason, or null when none is needed. */
export function reasonRule(mode: ReasonMode): string | null {
  return mode === 'always' ? 'required for every decision' : mode === 'on-deny' ? 'required to deny' : null;
}

/** Why a routine request waits for people: its rule's budget was spent in this window. */
export function budgetLine(view: Pick<ApprovalView, 'budgetExhausted'>): string | null {
  const b = view.budgetExhausted;
  if (!b) return null;
  return `Budget exhausted: rule ${b.rule} approves at most ${b.count} per ${formatDuration(b.perSeconds)}${b.then ? `; escalated to ${b.then}` : ''}`;
}

/** Who was added as approvers when the request escalated (a rule's `escalate`), or null. */
export function escalationLine(view: Pick<ApprovalView, 'escalated'>): string | null {
  const e = view.escalated;
  return e ? `Escalated at ${e.at}: ${e.to.join(', ')} may approve too` : null;
}

/** Which stage of an ordered approval is being asked ("2 of 2: security"), or null for a single stage. */
export function stageLine(view: Pick<ApprovalView, 'stage' | 'status'>): string | null {
  const s = view.stage;
  if (!s || s.total < 2 || view.status !== 'pending' || s.index > s.total) return null;
  return `${s.index} of ${s.total}${s.name ? ` (${s.name})` : ''}: ${s.approvers.join(', ')}; later stages are asked once this one approves`;
}

/** What a request with per-group quorums or stages still needs from whom ("1 from security, 1 from data-owners"). */
export function neededLine(view: Pick<ApprovalView, 'stage' | 'status'>): string | null {
  const s = view.stage;
  if (!s || view.status !== 'pending' || s.missing.length === 0) return null;
  return s.missing.map((q) => `${q.count} from ${q.group ?? s.approvers.join(' or ')}`).join(', ');
}

/** Every fact of a request, as its approval card and its audit trail show them. Absent facts are left out. */
export function cardFacts(view: ApprovalView): CardFact[] {
  const facts: CardFact[] = [];
  const add = (label: string, value: string | null | undefined, kind: CardFact['kind'] = 'text') => {
    if (value) facts.push({ label, value, kind, source: sourceOf(view, label) });
  };
  add('Action', view.action);
  add('Resource', view.resource);
  add('Environment', view.environment);
  add('Risk', view.risk);
  add('Requested by', view.requesterLabel);
  add('On behalf of', view.onBehalfOfLabel);
  add('Matched rule', view.rule);
  add('Budget', budgetLine(view));
  add('Escalated', escalationLine(view));
  add('Approvals', `${view.approvals} of ${view.approvalsRequired} needed`);
  add('Approver groups', view.approverGroups.join(', '));
  add('Stage', stageLine(view));
  add('Still needed', neededLine(view));
  add('Reason', reasonRule(view.reasonMode));
  add('Submitted', view.createdAt, 'time');
  add('Expires', view.expiresAt, 'time');
  add('Trace id', view.traceId, 'id');
  add('Request id', view.id, 'id');
  return facts;
}

const words = (claims: RequestClaim[]): string[] => [...new Set(claims.map((c) => CLAIM_WORDS[c]))];

/**
 * The line every approval card and trail carries: which parts of the request the agent asserted (nobody verified
 * them) and which its API key pinned. Null for a request with neither (it always has some).
 */
export function claimsLine(view: Pick<ApprovalView, 'assertedFields' | 'pinnedFields'>): string | null {
  const asserted = words(view.assertedFields);
  const pinned = words(view.pinnedFields).filter((w) => !asserted.includes(w));
  const parts = [
    ...(asserted.length ? [`Asserted by the agent, not verified: ${asserted.join(', ')}.`] : []),
    ...(pinned.length ? [`Pinned by its API key: ${pinned.join(', ')}.`] : []),
  ];
  return parts.length ? parts.join(' ') : null;
}
