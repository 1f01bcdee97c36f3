/**
 * The one mapping from outcomes and errors to what a chat user reads. Slack (ephemeral messages) and Teams (the
 * refreshed card's notice) both call it, so a refusal reads the same on every platform.
 */
import { AppError } from '../domain/app-error';
import type { VoteResult } from '../services/decision-service';

export interface ChatReply {
  /** Plain text, suitable for an ephemeral message or a card notice. */
  text: string;
  /** 'ok' for accepted votes, 'refused' for rule refusals, 'error' for failures. */
  tone: 'ok' | 'refused' | 'error';
}

export function voteReply(result: VoteResult): ChatReply {
  if (result.outcome === 'refused') return { text: `:no_entry: ${result.message}`, tone: 'refused' };
  if (result.status === 'approved' && result.standingApproval) {
    const s = result.standingApproval;
    return { text: `:white_check_mark: Your approval was recorded; the request is now approved. Your standing approval covers the same request for the next ${s.uses} uses, until ${s.expiresAt} (any approver of the rule may revoke it: the chat command \`revoke ${s.id}\`, the console's Standing approvals page, or POST /v1/standing-approvals/${s.id}/revoke).`, tone: 'ok' };
  }
  if (result.status === 'approved') return { text: ':white_check_mark: Your approval was recorded; the request is now approved.', tone: 'ok' };
  if (result.status === 'denied') return { text: ':x: Your denial was recorded; the request is now denied.', tone: 'ok' };
  return { text: `:white_check_mark: Your approval was recorded (${result.approvals} of ${result.approvalsRequired}).`, tone: 'ok' };
}

export function errorReply(err: unknown): ChatReply {
  if (err instanceof AppError) {
    if (err.kind === 'unavailable' || err.kind === 'internal') return { text: `:warning: ${err.message}`, tone: 'error' };
    return { text: `:no_entry: ${err.message}`, tone: 'refused' };
  }
  // Never show internals to chat users; the log has the details.
  return { text: ':warning: Something went wrong on the Countersign server; nothing was recorded. Please try again.', tone: 'error' };
}

/** Slack-style emoji shortcodes mean nothing in Teams: strip them there. */
export function plainText(reply: ChatReply): string {
  return reply.text.replace(/:[a-z_]+:\s*/g, '');
}
