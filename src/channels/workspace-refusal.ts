/**
 * One installation serves one Slack workspace or one Microsoft 365 tenant. A click, command or install from anywhere
 * else is refused before anyone is looked up: another workspace's user can have any email (carol@example.com
 * included), so letting the people directory identify them would let an outsider vote as an approver. Both adapters
 * refuse through this one function, so the refusal reads and is recorded the same on every platform: a vote attempt as
 * a `vote.refused` event in the request's trail (next to every other refused vote), anything else as `chat.refused`.
 */
import type { AuditEventInput } from '../domain/audit-event';
import { isUuid } from '../domain/ids';
import type { ChatReply } from './chat-reply';
import { clip } from './text-limits';

export type WorkspacePlatform = 'slack' | 'teams';

export interface ForeignInteraction {
  platform: WorkspacePlatform;
  /** `approve` or `deny` for a vote attempt; otherwise what it was (`command`, `message`, `install`, `refresh`, …). */
  attempted: string;
  /** The request a vote attempt named, when it named one. */
  requestId?: string;
  /** The user as the platform named them: Slack user id, or Teams AAD object id (else the Teams user id); their name. */
  user: { id?: string; aadObjectId?: string; name?: string };
  /** The workspace or tenant the interaction came from, as it stated it; null when it stated none. */
  from: string | null;
  /** The workspace or tenant this installation serves; null while it is not known yet (Slack still asking). */
  expected: string | null;
  at: Date;
}

const WHAT: Record<WorkspacePlatform, { scope: string; refusal: string }> = {
  slack: { scope: 'Slack workspace', refusal: 'foreign_workspace' },
  teams: { scope: 'Microsoft 365 tenant', refusal: 'foreign_tenant' },
};

function actorOf(i: ForeignInteraction): AuditEventInput['actor'] {
  const name = i.user.name ? clip(i.user.name, 200) : undefined;
  if (i.platform === 'slack') return { key: `slack:${i.user.id ?? 'unknown'}`, label: name };
  const aad = i.user.aadObjectId?.toLowerCase();
  const key = aad ? `teams:${aad}` : `teams-user:${i.user.id ?? 'unknown'}`;
  return { key, ids: aad && i.from ? [key, `teams:${i.from.toLowerCase()}/${aad}`] : [key], label: name };
}

/** What the user is told and what the trail records when an interaction comes from outside the installation's scope. */
export function workspaceRefusal(i: ForeignInteraction): { reply: ChatReply; event: AuditEventInput } {
  const what = WHAT[i.platform];
  const unknown = i.expected === null;
  const refusal = unknown ? 'workspace_unknown' : what.refusal;
  const message = unknown
    ? `Countersign cannot tell yet which ${what.scope} it serves, so nothing was recorded. Please try again in a moment.`
    : `This Countersign installation serves another ${what.scope}. Nothing was recorded.`;
  const vote = i.attempted === 'approve' || i.attempted === 'deny';
  const requestId = i.requestId && isUuid(i.requestId) ? i.requestId.toLowerCase() : null;
  const event: AuditEventInput = {
    type: vote ? 'vote.refused' : 'chat.refused',
    requestId: vote ? requestId : null,
    actor: actorOf(i),
    channel: i.platform,
    at: i.at,
    data: {
      refusal,
      message,
      attempted: i.attempted,
      ...(vote ? {} : { requestId }),
      [i.platform === 'slack' ? 'workspace' : 'tenant']: i.from,
      [i.platform === 'slack' ? 'expectedWorkspace' : 'expectedTenant']: i.expected,
      person: null,
      knownPerson: false,
    },
  };
  return { reply: { text: `${unknown ? ':warning:' : ':no_entry:'} ${message}`, tone: unknown ? 'error' : 'refused' }, event };
}
