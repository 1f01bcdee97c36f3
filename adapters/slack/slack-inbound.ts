/**
 * What Countersign does with Slack interactions: button clicks, the reason modal and the slash command. Shared by the
 * HTTP receiver and Socket Mode, so both transports run exactly the same code.
 *
 * Every listener acknowledges first (Slack gives up after 3 seconds), then resolves the user, delegates to the core
 * (decisions.vote, commands.run) and answers ephemerally. Rules are never checked here: the core decides, the adapter
 * renders. Card updates after a vote are enqueued by the core, not done inline.
 */
import type { AnyMiddlewareArgs, App, BlockAction, ButtonAction, SlackViewAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type pino from 'pino';
import { errorReply, voteReply } from '../../src/channels/chat-reply';
import { chatActor, chatPresented } from '../../src/channels/chat-identity';
import { workspaceRefusal } from '../../src/channels/workspace-refusal';
import type { StandingAsk, VoteDecision } from '../../src/domain/approval';
import type { AuditService } from '../../src/services/audit-service';
import { parseChatCommand, type ChatCommandService } from '../../src/services/chat-command-service';
import type { DecisionService } from '../../src/services/decision-service';
import type { RequestQueryService } from '../../src/services/request-query-service';
import {
  ACTIONS,
  parseReasonMetadata,
  REASON_MODAL,
  renderCommandResult,
  renderReasonModal,
  renderReply,
  type ReasonModalMetadata,
  type SlackMessage,
} from './slack-render';
import type { SlackDirectory } from './slack-directory';
import { statedTeams, type SlackWorkspace } from './slack-workspace';
import type { WorkLimiter } from './work-limiter';

export interface SlackInboundDeps {
  decisions: Pick<DecisionService, 'vote'>;
  queries: Pick<RequestQueryService, 'view'>;
  commands: Pick<ChatCommandService, 'run'>;
  directory: SlackDirectory;
  /** The one workspace served: interactions from any other are refused before anyone is looked up. */
  workspace: Pick<SlackWorkspace, 'teamId'>;
  /** Where refused interactions from other workspaces are recorded. */
  audit: Pick<AuditService, 'append'>;
  web: Pick<WebClient, 'views' | 'chat'>;
  log: pino.Logger;
  /** Slash command name, e.g. `/countersign` (SLACK_COMMAND). */
  command: string;
  /** Slack user group ids (`S…`) whose members may run audit look-ups (from SLACK_AUDIT_ACCESS). */
  auditUserGroups: string[];
  /** Bounds the votes and commands running after their ack, so acks stay fast under bursts. */
  limiter: Pick<WorkLimiter, 'run'>;
  fetch?: typeof fetch;
}

/** Where an ephemeral answer goes: the interaction's response_url when there is one, else chat.postEphemeral. */
interface ReplyTarget {
  userId: string;
  channelId?: string;
  responseUrl?: string;
}

const DECISION_ACTION = new RegExp(`^(${ACTIONS.approve}|${ACTIONS.approveWithReason}|${ACTIONS.deny}|${ACTIONS.approveStanding})$`);
const PROFILE_LOOKUP_FAILED = ':warning: Countersign could not look up your Slack profile, so nothing was recorded. Please try again.';
const BUSY = ':hourglass: Countersign is too busy to take this right now, so nothing was recorded. Please try again in a moment.';

/** Registers the listeners on a Bolt app (HTTP or Socket Mode). */
export function registerSlackInbound(app: App, deps: SlackInboundDeps): void {
  const doFetch = deps.fetch ?? fetch;

  async function replyEphemeral(target: ReplyTarget, msg: SlackMessage): Promise<void> {
    try {
      if (target.responseUrl) {
        // Hand-written rather than Bolt's respond(): the modal submission no longer has the click's respond().
        const res = await doFetch(target.responseUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text: msg.text, blocks: msg.blocks }),
          // A hung response_url must not hold one of the limited work slots.
          signal: AbortSignal.timeout(10_000),
        });
        if (res.ok) return;
        deps.log.warn({ status: res.status }, 'Slack response_url refused the reply; falling back to chat.postEphemeral');
      }
      if (target.channelId) {
        await deps.web.chat.postEphemeral({ channel: target.channelId, user: target.userId, text: msg.text, blocks: msg.blocks });
      }
    } catch (err) {
      deps.log.warn({ err }, 'could not send an ephemeral Slack reply');
    }
  }

  /** Runs post-ack work within the limiter; when it is saturated the user is told, and nothing is recorded. */
  function later(target: ReplyTarget, job: () => Promise<void>): void {
    if (!deps.limiter.run(job)) {
      deps.log.warn({ userId: target.userId }, 'Slack work queue full; interaction shed');
      void replyEphemeral(target, renderReply(BUSY));
    }
  }

  /**
   * Every interaction passes here first. One from another workspace (another installation of the app, or a user of
   * another organisation in a shared channel) is acknowledged, answered with a refusal and recorded, and reaches no
   * listener: nobody is looked up and nothing is voted.
   */
  app.use(async (args) => {
    const teamId = deps.workspace.teamId();
    const stated = statedTeams(args.body);
    if (teamId && stated.length > 0 && stated.every((t) => t === teamId)) return args.next();
    const ack = (args as { ack?: () => Promise<void> }).ack;
    await ack?.();
    const refused = foreignInteraction(args.body, stated, teamId);
    deps.log.warn({ teams: stated, expected: teamId ?? null, attempted: refused.attempted }, 'refused a Slack interaction from another workspace');
    later({ userId: refused.user.id ?? '', responseUrl: refused.responseUrl }, () => refuse(refused));
  });

  async function refuse(i: ReturnType<typeof foreignInteraction>): Promise<void> {
    const { reply, event } = workspaceRefusal(i);
    await deps.audit.append([event]).catch((err: unknown) => deps.log.error({ err }, 'could not record a refused Slack interaction'));
    // Only through the interaction's own response_url: Countersign's token has no business in another workspace.
    if (i.responseUrl) await replyEphemeral({ userId: i.user.id ?? '', responseUrl: i.responseUrl }, renderReply(reply.text));
  }

  /** Resolves the clicking user, casts the vote through the core and tells the user what happened. */
  async function castVote(requestId: string, decision: VoteDecision, reason: string | null, target: ReplyTarget, standing?: StandingAsk): Promise<void> {
    let approver;
    try {
      approver = await deps.directory.person(target.userId);
    } catch (err) {
      deps.log.warn({ err, requestId }, 'users.info failed; vote not cast');
      return replyEphemeral(target, renderReply(PROFILE_LOOKUP_FAILED));
    }
    let text: string;
    try {
      const result = await deps.decisions.vote(requestId, { presented: chatPresented('slack', approver, deps.workspace.teamId()), approver, channel: 'slack', decision, reason, standing }, deps.log);
      text = voteReply(result).text;
    } catch (err) {
      deps.log.error({ err, requestId }, 'Slack vote failed');
      text = errorReply(err).text;
    }
    await replyEphemeral(target, renderReply(text));
  }

  /** Approve with a standing approval at the bounds the request's rule allows (the core checks them again). */
  async function castStanding(requestId: string, target: ReplyTarget): Promise<void> {
    const bounds = await deps.queries.view(requestId).then((v) => v.standing, () => null);
    if (!bounds) return replyEphemeral(target, renderReply(':no_entry: This request\'s rule allows no standing approvals; nothing was recorded.'));
    return castVote(requestId, 'approve', null, target, { forSeconds: bounds.maxForSeconds, uses: bounds.maxUses });
  }

  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: DECISION_ACTION }, async ({ ack, body, action }) => {
    await ack();
    const requestId = action.value ?? '';
    const target: ReplyTarget = { userId: body.user.id, channelId: body.channel?.id ?? body.container?.channel_id, responseUrl: body.response_url };
    if (action.action_id === ACTIONS.approve) return later(target, () => castVote(requestId, 'approve', null, target));
    if (action.action_id === ACTIONS.approveStanding) return later(target, () => castStanding(requestId, target));

    // Deny, or Approve on a rule that always wants a reason: ask for it first. trigger_id lives 3 seconds.
    const decision: VoteDecision = action.action_id === ACTIONS.deny ? 'deny' : 'approve';
    const meta: ReasonModalMetadata = { requestId, decision, channelId: target.channelId, responseUrl: target.responseUrl };
    // Only to mark the input optional or required; the core enforces the reason rule on submission.
    const reasonMode = await deps.queries.view(requestId).then((v) => v.reasonMode, () => undefined);
    try {
      await deps.web.views.open({ trigger_id: body.trigger_id, view: renderReasonModal(meta, reasonMode) });
    } catch (err) {
      deps.log.warn({ err, requestId }, 'could not open the reason modal');
      await replyEphemeral(target, renderReply(':warning: Countersign could not open the reason dialog; nothing was recorded. Please click again.'));
    }
  });

  app.view<SlackViewAction>({ callback_id: REASON_MODAL.callbackId, type: 'view_submission' }, async ({ ack, body, view }) => {
    await ack();
    const meta = parseReasonMetadata(view.private_metadata);
    if (!meta) {
      deps.log.warn('reason modal submitted without valid metadata');
      return;
    }
    const reason = view.state.values[REASON_MODAL.blockId]?.[REASON_MODAL.actionId]?.value?.trim() || null;
    const target: ReplyTarget = { userId: body.user.id, channelId: meta.channelId, responseUrl: meta.responseUrl };
    later(target, () => castVote(meta.requestId, meta.decision, reason, target));
  });

  app.command(deps.command, async ({ ack, command }) => {
    await ack();
    const target: ReplyTarget = { userId: command.user_id, channelId: command.channel_id, responseUrl: command.response_url };
    later(target, () => runCommand(command.user_id, command.text ?? '', target));
  });

  async function runCommand(userId: string, typed: string, target: ReplyTarget): Promise<void> {
    let actor;
    try {
      actor = await deps.directory.person(userId);
    } catch (err) {
      deps.log.warn({ err }, 'users.info failed; command not run');
      return replyEphemeral(target, renderReply(PROFILE_LOOKUP_FAILED));
    }
    try {
      const text = await resolveMentions(typed, deps.directory);
      const parsed = parseChatCommand(text);
      const isAudit = parsed.kind === 'audit-request' || parsed.kind === 'audit-search';
      const platformAllowed = isAudit && deps.auditUserGroups.length > 0 && (await deps.directory.inUserGroups(userId, deps.auditUserGroups));
      const result = await deps.commands.run(chatActor('slack', actor, deps.workspace.teamId()), parsed, { platformAllowed });
      await replyEphemeral(target, renderCommandResult(result, deps.command, text));
    } catch (err) {
      deps.log.error({ err }, 'Slack command failed');
      await replyEphemeral(target, renderReply(errorReply(err).text));
    }
  }
}

/** What a refused interaction tried, by whom, from where, and where to answer it. */
function foreignInteraction(body: AnyMiddlewareArgs['body'], stated: string[], expected: string | undefined) {
  const b = body as {
    type?: string; command?: string; user?: { id?: string; name?: string; username?: string }; user_id?: string; user_name?: string;
    actions?: { action_id?: string; value?: string }[]; view?: { callback_id?: string; private_metadata?: string }; response_url?: string;
  };
  let attempted = b.command ? 'command' : b.type ?? 'interaction';
  let requestId: string | undefined;
  let responseUrl = b.response_url;
  const action = b.type === 'block_actions' ? b.actions?.[0] : undefined;
  if (action?.action_id && DECISION_ACTION.test(action.action_id)) {
    attempted = action.action_id === ACTIONS.deny ? 'deny' : 'approve';
    requestId = action.value;
  }
  if (b.type === 'view_submission' && b.view?.callback_id === REASON_MODAL.callbackId) {
    const meta = parseReasonMetadata(b.view.private_metadata);
    if (meta) {
      attempted = meta.decision;
      requestId = meta.requestId;
      responseUrl = meta.responseUrl;
    }
  }
  return {
    platform: 'slack' as const,
    attempted,
    requestId,
    user: { id: b.user?.id ?? b.user_id, name: b.user?.name ?? b.user?.username ?? b.user_name },
    from: stated.find((t) => t !== expected) ?? stated[0] ?? null,
    expected: expected ?? null,
    at: new Date(),
    responseUrl,
  };
}

/**
 * Slack escapes what users type in slash commands: `<@U123|bob>` for mentions, `<mailto:a@b.c|a@b.c>` and `<url|text>`
 * for links. Mentions become the person's email (so audit look-ups match requests made by email too) or their Slack
 * id; links become their plain target.
 */
export async function resolveMentions(text: string, directory: Pick<SlackDirectory, 'person'>): Promise<string> {
  const mentions = [...new Set([...text.matchAll(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g)].map((m) => m[1]))];
  const keys = new Map<string, string>();
  await Promise.all(
    mentions.map(async (id) => {
      const p = await directory.person(id).catch(() => undefined);
      keys.set(id, p?.email ?? `slack:${id}`);
    }),
  );
  return text
    .replace(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g, (_m, id: string) => keys.get(id) ?? `slack:${id}`)
    .replace(/<mailto:([^|>]+)(?:\|[^>]*)?>/g, '$1')
    .replace(/<((?:https?|s3|gs|ftp):[^|>]+)(?:\|[^>]*)?>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
