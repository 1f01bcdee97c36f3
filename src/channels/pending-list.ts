/**
 * The `pending` command's answer, as both platforms show it: a heading, then one entry per request with the same
 * short facts and Approve/Deny right there, so an approver can decide from the list on Slack and on Teams alike.
 */
import type { ApprovalView } from '../domain/approval-view';
import { cardFacts, type CardFact } from './card-facts';

export interface PendingEntry {
  view: ApprovalView;
  /** Who asked, for whom, progress, the reason rule, expiry and the request id (a subset of the card's facts). */
  facts: CardFact[];
}

export interface PendingList {
  heading: string;
  entries: PendingEntry[];
}

const ENTRY_FACTS = new Set(['Requested by', 'On behalf of', 'Approvals', 'Reason', 'Expires', 'Request id']);

export function pendingList(items: ApprovalView[]): PendingList {
  return {
    heading: items.length ? `Requests you can approve (${items.length})` : 'Nothing is waiting for your approval.',
    entries: items.map((view) => ({ view, facts: cardFacts(view).filter((f) => ENTRY_FACTS.has(f.label)) })),
  };
}
