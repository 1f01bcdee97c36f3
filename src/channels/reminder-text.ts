/**
 * The words of a reminder to approvers (a rule's `remind`): one sentence for every platform. It carries no agent text
 * (the card it follows shows the request, escaped), so it needs no escaping on any platform.
 */
import type { ApprovalView } from '../domain/approval-view';
import { formatDuration } from '../domain/duration';
import { STATUS_WORDS } from './status-words';

/** `⏳ Reminder: still waiting for approval (1 of 2 approvals); expires in 45m (2026-11-28T21:00:00.000Z).` */
export function reminderText(view: ApprovalView, now: Date, mark: 'emoji' | 'symbol'): string {
  const left = Math.max(0, Math.round((Date.parse(view.expiresAt) - now.getTime()) / 1000));
  return `${STATUS_WORDS.pending[mark]} Reminder: still waiting for approval (${view.approvals} of ${view.approvalsRequired} approvals); expires in ${formatDuration(left)} (${view.expiresAt}).`;
}
