/**
 * The `standing` and `revoke` commands' answers, as both platforms show them: a heading, one entry per standing
 * approval (what it covers, uses left, expiry, its id) and how to revoke one. Action, resource and requester were sent
 * by the agent on the request that created it: they are facts marked as asserted, escaped by each renderer.
 */
import type { StandingApprovalView } from '../services/standing-approval-service';
import type { CardFact } from './card-facts';

export interface StandingEntry {
  /** The agent's action and resource, for the renderer to escape and show as the entry's title. */
  action: string;
  resource: string;
  facts: CardFact[];
}

export interface StandingList {
  heading: string;
  entries: StandingEntry[];
  /** How to end one: the chat command (with the platform's prefix, if any) or the API. */
  howToRevoke: string | null;
}

function entryFacts(s: StandingApprovalView): CardFact[] {
  return [
    { label: 'Requester', value: `${s.requester.id} (${s.requester.type})`, kind: 'text', source: 'asserted' },
    ...(s.environment ? [{ label: 'Environment', value: s.environment, kind: 'text' as const, source: 'asserted' as const }] : []),
    { label: 'Rule', value: s.rule, kind: 'text', source: null },
    { label: 'Granted by', value: s.grantedBy.label, kind: 'text', source: null },
    { label: 'Uses left', value: `${s.usesLeft} of ${s.maxUses}`, kind: 'text', source: null },
    { label: 'Expires', value: s.expiresAt, kind: 'time', source: null },
    { label: 'Id', value: s.id, kind: 'id', source: null },
  ];
}

/** @param revokeCommand the command that revokes, as the user types it (`/countersign revoke`, `revoke`) */
export function standingList(items: StandingApprovalView[], revokeCommand: string): StandingList {
  return {
    heading: items.length ? `Active standing approvals of rules you approve (${items.length})` : 'No active standing approvals of rules you approve.',
    entries: items.map((s) => ({ action: s.action, resource: s.resource, facts: entryFacts(s) })),
    howToRevoke: items.length ? `To revoke one: ${revokeCommand} <id>, or POST /v1/standing-approvals/<id>/revoke.` : null,
  };
}

/** The answer to a revocation that went through (Countersign's words and the id only: nothing to escape). */
export function revokedText(s: Pick<StandingApprovalView, 'id'>): string {
  return `Standing approval ${s.id} is revoked: matching requests will be asked again.`;
}
