/**
 * The words and marks chat shows for where a request stands and for how someone voted: one table for every platform,
 * so a Slack card and a Teams card can never name a status differently. `emoji` is a Slack-style shortcode (the form
 * chat replies use), `symbol` the same mark in Unicode for platforms that do not read shortcodes.
 */
import type { VoteDecision } from '../domain/approval';
import type { RequestStatus } from '../domain/request-lifecycle';
import { formatDuration } from '../domain/duration';

export interface ChatMark {
  emoji: string;
  symbol: string;
}

export const STATUS_WORDS: Record<RequestStatus, ChatMark & { word: string }> = {
  pending: { word: 'Approval needed', emoji: ':hourglass_flowing_sand:', symbol: '⏳' },
  approved: { word: 'Approved', emoji: ':white_check_mark:', symbol: '✅' },
  denied: { word: 'Denied', emoji: ':x:', symbol: '❌' },
  expired: { word: 'Expired', emoji: ':alarm_clock:', symbol: '⏰' },
  cancelled: { word: 'Cancelled', emoji: ':no_entry_sign:', symbol: '🚫' },
};

/** A vote: the past-tense verb in vote lines and audit lines, and the button that casts it. */
export const VOTE_WORDS: Record<VoteDecision, ChatMark & { verb: string; button: string }> = {
  approve: { verb: 'approved', button: 'Approve', emoji: ':white_check_mark:', symbol: '✅' },
  deny: { verb: 'denied', button: 'Deny', emoji: ':x:', symbol: '❌' },
};

/** The button that approves and grants a standing approval at the rule's bounds ("Approve + next 15m / 20 uses"). */
export function standingButtonLabel(bounds: { maxForSeconds: number; maxUses: number }): string {
  return `Approve + next ${formatDuration(bounds.maxForSeconds)} / ${bounds.maxUses} uses`;
}

/** A refused vote attempt, in audit lines. */
export const REFUSED_MARK: ChatMark = { emoji: ':no_entry:', symbol: '⛔' };

/** The heading of the requester's notice once their request is final ("Your request was denied: dataset.export"). */
export function notificationHeading(status: RequestStatus, action: string): string {
  return `Your request was ${status}: ${action}`;
}
