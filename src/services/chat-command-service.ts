/**
 * Chat commands shared by Slack (`/countersign …`) and Teams (messages to the bot): the same grammar, the same
 * permissions and the same results, which each adapter only renders.
 *
 *   audit <request id>                         the whole trail of one request
 *   audit user:<email|slack:U…|teams:…> [since:7d]
 *   audit resource:<glob> [since:7d]
 *   audit action:<glob> [since:7d]
 *   pending                                    what I can approve now
 *   standing                                   active standing approvals of rules I approve
 *   revoke <standing approval id>              end one (any approver of its rule may)
 *   help
 */
import { AppError } from '../domain/app-error';
import type { ApprovalView } from '../domain/approval-view';
import { isUuid } from '../domain/ids';
import { personActor } from '../domain/audit-event';
import type { PersonIdentity } from '../domain/identity';
import type { PresentedIdentity } from '../domain/people';
import type { Policy } from '../domain/policy';
import type { AuditFilter, AuditRecord, AuditService } from './audit-service';
import type { DirectoryService } from './directory-service';
import type { RequestQueryService } from './request-query-service';
import type { StandingApprovalService, StandingApprovalView } from './standing-approval-service';

export type ChatCommand =
  | { kind: 'help' }
  | { kind: 'pending' }
  | { kind: 'standing' }
  | { kind: 'revoke'; id: string }
  | { kind: 'audit-request'; requestId: string }
  | { kind: 'audit-search'; filter: { user?: string; resource?: string; action?: string }; since: Date; cursor?: string }
  | { kind: 'invalid'; message: string };

export type ChatCommandResult =
  | { kind: 'help'; lines: string[] }
  | { kind: 'pending'; items: ApprovalView[] }
  | { kind: 'standing'; items: StandingApprovalView[] }
  | { kind: 'revoked'; item: StandingApprovalView }
  | { kind: 'trail'; request: ApprovalView; events: AuditRecord[] }
  | { kind: 'events'; description: string; events: AuditRecord[]; nextCursor: string | null }
  | { kind: 'refused'; message: string }
  | { kind: 'error'; message: string };

export const HELP_LINES = [
  'audit <request id> — the whole trail of one request: who asked, context, every vote and refusal, outcome',
  'audit user:<email or @user> [since:7d] — what a person requested or decided',
  'audit resource:<glob> [since:7d] — activity on matching resources (e.g. resource:s3://prod-*)',
  'audit action:<glob> [since:7d] — activity for matching actions (e.g. action:dataset.*)',
  'pending — requests you can approve now',
  'standing — active standing approvals of rules you approve',
  'revoke <standing approval id> — end a standing approval (any approver of its rule may)',
  'help — this list',
];

/** Parses `7d`, `12h`, `30m` into a start time. */
function parseSince(text: string, now: Date): Date | undefined {
  const m = /^(\d{1,4})([mhdw])$/.exec(text);
  if (!m) return undefined;
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return new Date(now.getTime() - Number(m[1]) * unit);
}

/**
 * Parses command text. Adapters turn platform mentions (`<@U123|bob>`) into an email or identity key before calling
 * this, so the grammar stays the same on every platform.
 */
export function parseChatCommand(text: string, now: Date = new Date()): ChatCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const verb = (words.shift() ?? 'help').toLowerCase();
  if (verb === 'help' || verb === '?') return { kind: 'help' };
  if (verb === 'pending') return { kind: 'pending' };
  if (verb === 'standing') return { kind: 'standing' };
  if (verb === 'revoke') {
    if (words.length !== 1 || !isUuid(words[0])) return { kind: 'invalid', message: 'Usage: `revoke <standing approval id>` (the id `standing` lists).' };
    return { kind: 'revoke', id: words[0].toLowerCase() };
  }
  if (verb !== 'audit') return { kind: 'invalid', message: `Unknown command \`${verb}\`. Try \`help\`.` };
  if (words.length === 0) return { kind: 'invalid', message: 'Usage: `audit <request id>` or `audit user:|resource:|action:<value> [since:7d]`.' };
  if (words.length === 1 && isUuid(words[0])) return { kind: 'audit-request', requestId: words[0].toLowerCase() };

  const filter: { user?: string; resource?: string; action?: string } = {};
  let since = new Date(now.getTime() - 7 * 86_400_000);
  let cursor: string | undefined;
  for (const w of words) {
    const i = w.indexOf(':');
    const key = i > 0 ? w.slice(0, i).toLowerCase() : '';
    const value = i > 0 ? w.slice(i + 1) : '';
    if (!value) return { kind: 'invalid', message: `Cannot read \`${w}\`: use user:, resource:, action:, since: or a request id.` };
    if (key === 'user') filter.user = value.replace(/^mailto:/, '');
    else if (key === 'resource') filter.resource = value;
    else if (key === 'action') filter.action = value;
    else if (key === 'page' || key === 'cursor') cursor = value;
    else if (key === 'since') {
      const s = parseSince(value, now);
      if (!s) return { kind: 'invalid', message: `Cannot read \`since:${value}\`: use a number and m, h, d or w (e.g. since:7d).` };
      since = s;
    } else return { kind: 'invalid', message: `Unknown filter \`${key}:\`. Use user:, resource:, action: or since:.` };
  }
  if (!filter.user && !filter.resource && !filter.action) {
    return { kind: 'invalid', message: 'Name what to look up: a request id, or user:, resource: or action:.' };
  }
  return { kind: 'audit-search', filter, since, cursor };
}

/** Who typed a command: what their platform authenticated, and how to show them. */
export interface ChatActor {
  presented: PresentedIdentity;
  /** What the trail records about them (ids and name as the platform gave them). */
  identity: PersonIdentity;
}

export interface ChatCommandService {
  /**
   * Runs a command for `actor`. `platformAllowed` lets an adapter grant audit access by a platform-side rule
   * (e.g. membership of a Slack user group named in the configuration). Every audit look-up, allowed or refused, is
   * itself recorded in the audit trail.
   */
  run(actor: ChatActor, command: ChatCommand, opts?: { platformAllowed?: boolean; pageSize?: number }): Promise<ChatCommandResult>;
}

export function createChatCommandService(deps: {
  audit: Pick<AuditService, 'search' | 'append'>;
  queries: Pick<RequestQueryService, 'view' | 'pendingFor'>;
  standing: Pick<StandingApprovalService, 'listFor' | 'revoke'>;
  policy: () => Policy;
  directory: Pick<DirectoryService, 'identify' | 'current'>;
  /** The platform these commands come from (`slack`, `teams`), for the trail. */
  channel: string;
  /**
   * Policy group names whose members may run audit look-ups: the platform's audit-access setting. Closed by default:
   * with none named, nobody may (unless the platform grants it by its own rule).
   */
  auditGroups: string[];
  clock?: () => Date;
}): ChatCommandService {
  const clock = deps.clock ?? (() => new Date());

  /** Whether this person may look up the trail: a member of a group named in the audit-access setting. */
  function mayAudit(personId: string | null, known: boolean): boolean {
    if (!personId || !known) return false;
    const groups = deps.policy().groups;
    const members = deps.directory.current().members(deps.auditGroups.flatMap((g) => groups[g] ?? []));
    return members.includes(personId);
  }

  async function recordLookup(actor: ChatActor, personId: string | null, command: ChatCommand, allowed: boolean, results: number): Promise<void> {
    const what = command.kind === 'audit-request' ? { requestId: command.requestId } : command.kind === 'audit-search' ? { filter: command.filter, since: command.since.toISOString() } : {};
    await deps.audit.append([{
      type: 'audit.lookup',
      requestId: command.kind === 'audit-request' ? command.requestId : null,
      actor: personActor(actor.identity, personId ?? undefined),
      channel: deps.channel,
      at: clock(),
      data: { command: command.kind, ...what, allowed, results, person: personId },
    }]);
  }

  return {
    async run(actor, command, opts = {}) {
      const pageSize = opts.pageSize ?? 20;
      switch (command.kind) {
        case 'help':
          return { kind: 'help', lines: HELP_LINES };
        case 'invalid':
          return { kind: 'error', message: command.message };
        case 'pending': {
          const who = await deps.directory.identify(actor.presented, deps.channel);
          return { kind: 'pending', items: who.person ? await deps.queries.pendingFor([who.person.id], pageSize) : [] };
        }
        case 'standing': {
          // Chat shows approvers what they may end; the full list (auditors) is the console's and the API's.
          const who = await deps.directory.identify(actor.presented, deps.channel);
          return { kind: 'standing', items: who.person ? await deps.standing.listFor(who.person.id, { everyone: false, limit: pageSize }) : [] };
        }
        case 'revoke': {
          try {
            // The directory decides who typed it, as for a vote; the service checks they approve the rule and audits it.
            const item = await deps.standing.revoke(command.id, { presented: actor.presented, approver: actor.identity, channel: deps.channel });
            return { kind: 'revoked', item };
          } catch (err) {
            if (err instanceof AppError && err.kind !== 'unavailable' && err.kind !== 'internal') return { kind: 'refused', message: err.message };
            throw err;
          }
        }
        case 'audit-request':
        case 'audit-search': {
          const who = await deps.directory.identify(actor.presented, deps.channel);
          if (!opts.platformAllowed && !mayAudit(who.personId, Boolean(who.person))) {
            await recordLookup(actor, who.personId, command, false, 0);
            return { kind: 'refused', message: 'You are not allowed to look up the audit trail. Ask an administrator to add you to an audit group.' };
          }
          if (command.kind === 'audit-request') {
            let request: ApprovalView;
            try {
              request = await deps.queries.view(command.requestId);
            } catch (err) {
              // Only "no such request" is an answer; anything else (the database is down) is the caller's error reply.
              if (err instanceof AppError && err.code === 'not_found') return { kind: 'error', message: err.message };
              throw err;
            }
            const { items } = await deps.audit.search({ requestId: command.requestId }, { limit: 200, order: 'asc' });
            await recordLookup(actor, who.personId, command, true, items.length);
            return { kind: 'trail', request, events: items };
          }
          const f: AuditFilter = { since: command.since };
          if (command.filter.user) f.person = command.filter.user;
          if (command.filter.resource) f.resource = command.filter.resource;
          if (command.filter.action) f.action = command.filter.action;
          const { items, nextCursor } = await deps.audit.search(f, { limit: pageSize, order: 'desc', cursor: command.cursor });
          await recordLookup(actor, who.personId, command, true, items.length);
          const description = Object.entries(command.filter).map(([k, v]) => `${k}:${v}`).join(' ') + ` since ${command.since.toISOString()}`;
          return { kind: 'events', description, events: items, nextCursor };
        }
      }
    },
  };
}
