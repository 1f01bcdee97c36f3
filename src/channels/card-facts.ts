/**
 * The facts a card shows about a request, in order and with their labels: one list for the Slack card, the Teams
 * card and both `audit` trails, so no platform can show a fact another lacks or name it differently. Values are raw:
 * renderers escape agent-supplied text and format times for the viewer's time zone.
 */
import type { ApprovalView } from '../domain/approval-view';
import type { ReasonMode } from '../domain/policy';

export interface CardFact {
  label: string;
  value: string;
  /** `time`: an ISO timestamp to show in the viewer's zone; `id`: an identifier to show verbatim; `text`: words. */
  kind: 'text' | 'time' | 'id';
}

const text = (label: string, value: string | null | undefined): CardFact | null => (value ? { label, value, kind: 'text' } : null);
const time = (label: string, value: string): CardFact => ({ label, value, kind: 'time' });
const id = (label: string, value: string | null | undefined): CardFact | null => (value ? { label, value, kind: 'id' } : null);
const present = (facts: (CardFact | null)[]): CardFact[] => facts.filter((f): f is CardFact => f !== null);

/** What the rule asks of a reason, or null when none is needed. */
export function reasonRule(mode: ReasonMode): string | null {
  return mode === 'always' ? 'required for every decision' : mode === 'on-deny' ? 'required to deny' : null;
}

/** Every fact of a request, as its approval card and its audit trail show them. Absent facts are left out. */
export function cardFacts(view: ApprovalView): CardFact[] {
  return present([
    text('Action', view.action),
    text('Resource', view.resource),
    text('Environment', view.environment),
    text('Risk', view.risk),
    text('Requested by', view.requesterLabel),
    text('On behalf of', view.onBehalfOfLabel),
    text('Matched rule', view.rule),
    text('Approvals', `${view.approvals} of ${view.approvalsRequired} needed`),
    text('Approver groups', view.approverGroups.join(', ')),
    text('Reason', reasonRule(view.reasonMode)),
    time('Submitted', view.createdAt),
    time('Expires', view.expiresAt),
    id('Trace id', view.traceId),
    id('Request id', view.id),
  ]);
}
