/**
 * The bot's inbound logic, kept thin: remember where it was installed, turn card clicks into votes and messages into
 * chat commands, and render what the core answers. Every rule (self-approval, eligibility, quorum, once per person
 * across channels, expiry, reasons) lives in the core's decision service.
 */
import {
  TeamsActivityHandler,
  TurnContext,
  type Activity,
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
} from 'botbuilder';
import type pino from 'pino';
import { errorReply, voteReply, type ChatReply } from '../../src/channels/chat-reply';
import { chatActor, chatPresented } from '../../src/channels/chat-identity';
import { workspaceRefusal } from '../../src/channels/workspace-refusal';
import { AppError } from '../../src/domain/app-error';
import type { ApprovalView } from '../../src/domain/approval-view';
import type { AuditService } from '../../src/services/audit-service';
import { parseChatCommand, type ChatCommandService } from '../../src/services/chat-command-service';
import type { DecisionService } from '../../src/services/decision-service';
import type { RequestQueryService } from '../../src/services/request-query-service';
import { ADAPTIVE_CARD_CONTENT_TYPE, cardActivity, reasonFromAction, renderCommandCard, renderNoticeCard, VERBS, type AdaptiveCard } from './teams-render';
import type { ConversationStore } from './conversation-store';
import type { TeamsDirectory } from './teams-directory';

export interface TeamsInboundDeps {
  decisions: Pick<DecisionService, 'vote'>;
  queries: Pick<RequestQueryService, 'view'>;
  commands: Pick<ChatCommandService, 'run'>;
  store: ConversationStore;
  members: TeamsDirectory;
  /** The approval card for one viewer, with the notice their click produced. */
  renderCard: (view: ApprovalView, notice?: ChatReply) => AdaptiveCard;
  /**
   * MICROSOFT_APP_TENANT_ID, the one tenant served: activities from any other are refused before anyone is looked up.
   * Absent only when TEAMS_ALLOW_UNAUTHENTICATED=true (local development), where every tenant is let through.
   */
  tenantId?: string;
  /** Where refused activities from other tenants are recorded. */
  audit: Pick<AuditService, 'append'>;
  log: pino.Logger;
}

export function tenantOf(activity: Partial<Activity>): string | undefined {
  return (activity.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id ?? activity.conversation?.tenantId;
}

/** Every tenant an activity states (Teams sends it twice: channelData.tenant and conversation.tenantId), lower-cased. */
export function statedTenants(activity: Partial<Activity>): string[] {
  const ids = [(activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id, activity.conversation?.tenantId];
  return [...new Set(ids.filter((x): x is string => typeof x === 'string' && x.length > 0).map((x) => x.toLowerCase()))];
}

/** Activities worth an audit event when refused: someone acted. Others (typing, reactions) are only logged. */
const AUDITED_REFUSALS = new Set(['invoke', 'message', 'conversationUpdate', 'installationUpdate']);

/** What a refused activity tried, in the words of the kit's refusal. */
function attemptOf(activity: Partial<Activity>): { attempted: string; requestId?: string } {
  if (activity.type === 'invoke' && activity.name === 'adaptiveCard/action') {
    const action = (activity.value as { action?: { verb?: unknown; data?: { requestId?: unknown } } } | undefined)?.action;
    const requestId = typeof action?.data?.requestId === 'string' ? action.data.requestId : undefined;
    return { attempted: typeof action?.verb === 'string' ? action.verb : 'card action', requestId };
  }
  if (activity.type === 'conversationUpdate' || activity.type === 'installationUpdate') return { attempted: 'install' };
  return { attempted: activity.type === 'invoke' ? `invoke ${activity.name ?? ''}`.trim() : String(activity.type) };
}

/** The invoke response that replaces the card for the user who clicked. */
export function cardInvokeResponse(card: AdaptiveCard): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: ADAPTIVE_CARD_CONTENT_TYPE, value: card };
}

const HTML_ENTITIES: Record<string, string> = { '&nbsp;': ' ', '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/**
 * The command a user typed: the bot's own @mention removed, other @mentions replaced by the person's email (so
 * `audit user:@Bob` works), and the bits of HTML Teams wraps around text stripped.
 */
export async function commandText(context: TurnContext, members: TeamsDirectory): Promise<string> {
  const activity = context.activity;
  let text = TurnContext.removeRecipientMention(activity) ?? activity.text ?? '';
  const mentions = (activity.entities ?? []).filter((e) => e.type === 'mention' && e.mentioned?.id && e.mentioned.id !== activity.recipient?.id);
  for (const m of mentions) {
    const mentionText = typeof m.text === 'string' ? m.text : undefined;
    if (!mentionText || !text.includes(mentionText)) continue;
    const person = await members.lookup(context, m.mentioned.id).catch(() => undefined);
    const key = person?.email ?? (person?.teamsUserId ? `teams:${person.teamsUserId}` : undefined);
    if (key) text = text.split(mentionText).join(key);
  }
  return text
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(nbsp|amp|lt|gt|quot|#39);/g, (e) => HTML_ENTITIES[e] ?? e)
    .replace(/\s+/g, ' ')
    .trim();
}

export function createTeamsInbound(deps: TeamsInboundDeps): TeamsActivityHandler {
  const log = deps.log;

  const served = deps.tenantId?.toLowerCase();

  /** Whether every tenant the activity states is the one served (and it states one). */
  function fromServedTenant(activity: Partial<Activity>): boolean {
    if (!served) return true;
    const stated = statedTenants(activity);
    return stated.length > 0 && stated.every((t) => t === served);
  }

  /**
   * Another tenant's activity: recorded, and a card click answered with a notice card. Nothing else happens: no member
   * look-up, no stored conversation, no reply into the other tenant.
   */
  async function refuseForeign(context: TurnContext): Promise<void> {
    const a = context.activity;
    const stated = statedTenants(a);
    const { attempted, requestId } = attemptOf(a);
    const { reply, event } = workspaceRefusal({
      platform: 'teams',
      attempted,
      requestId,
      user: { id: a.from?.id, aadObjectId: a.from?.aadObjectId, name: a.from?.name },
      from: stated.find((t) => t !== served) ?? stated[0] ?? null,
      expected: served ?? null,
      at: new Date(),
    });
    log.warn({ tenants: stated, expected: served, type: a.type, attempted }, 'refused a Teams activity from another tenant');
    if (AUDITED_REFUSALS.has(String(a.type))) {
      await deps.audit.append([event]).catch((err: unknown) => log.error({ err }, 'could not record a refused Teams activity'));
    }
    if (a.type === 'invoke') {
      const value = a.name === 'adaptiveCard/action' ? { status: 200, body: cardInvokeResponse(renderNoticeCard(reply)) } : { status: 403 };
      await context.sendActivity({ type: 'invokeResponse', value });
    }
  }

  async function remember(context: TurnContext, why: string): Promise<void> {
    try {
      await deps.store.save(TurnContext.getConversationReference(context.activity), tenantOf(context.activity));
      log.info({ conversationId: context.activity.conversation?.id, why }, 'stored Teams conversation reference');
    } catch (err) {
      log.error({ err, conversationId: context.activity.conversation?.id }, 'could not store the Teams conversation reference');
    }
  }

  async function forget(context: TurnContext, why: string): Promise<void> {
    try {
      await deps.store.remove(context.activity.conversation.id);
      log.info({ conversationId: context.activity.conversation?.id, why }, 'removed Teams conversation reference');
    } catch (err) {
      log.error({ err }, 'could not remove the Teams conversation reference');
    }
  }

  /** The card a user sees after an action: the request's current state plus what happened to their click. */
  async function currentCard(requestId: string, notice?: ChatReply): Promise<AdaptiveCard> {
    try {
      return deps.renderCard(await deps.queries.view(requestId), notice);
    } catch (err) {
      return renderNoticeCard(notice && notice.tone !== 'ok' ? notice : errorReply(err));
    }
  }

  class ApprovalBot extends TeamsActivityHandler {
    constructor() {
      super();
      this.onMembersAdded(async (context, next) => {
        const botId = context.activity.recipient?.id;
        if (context.activity.membersAdded?.some((m) => m.id === botId)) await remember(context, 'installed');
        await next();
      });
      this.onMembersRemoved(async (context, next) => {
        const botId = context.activity.recipient?.id;
        if (context.activity.membersRemoved?.some((m) => m.id === botId)) await forget(context, 'uninstalled');
        await next();
      });
      this.onInstallationUpdateAdd(async (context, next) => {
        await remember(context, 'installationUpdate');
        await next();
      });
      this.onInstallationUpdateRemove(async (context, next) => {
        await forget(context, 'installationUpdate');
        await next();
      });
      this.onMessage(async (context, next) => {
        // A conversation the bot was added to before Countersign ran (or whose install event was lost) becomes
        // reachable as soon as someone talks to the bot there.
        await remember(context, 'message');
        await this.answerCommand(context);
        await next();
      });
    }

    /** Every activity, of any type, passes the tenant check before any handler runs. */
    protected override async onTurnActivity(context: TurnContext): Promise<void> {
      if (fromServedTenant(context.activity)) return super.onTurnActivity(context);
      await refuseForeign(context);
    }

    private async answerCommand(context: TurnContext): Promise<void> {
      let card: AdaptiveCard;
      try {
        const actor = await deps.members.resolve(context);
        const command = parseChatCommand(await commandText(context, deps.members));
        // Audit permissions (TEAMS_AUDIT_ACCESS policy groups) are the command service's; Teams adds no rule of its own.
        const result = await deps.commands.run(chatActor('teams', actor, tenantOf(context.activity)?.toLowerCase()), command);
        card = renderCommandCard(result);
      } catch (err) {
        if (!(err instanceof AppError)) log.error({ err }, 'Teams command failed');
        card = renderNoticeCard(errorReply(err));
      }
      try {
        await context.sendActivity(cardActivity(card));
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'could not answer a Teams command');
      }
    }

    protected override async onAdaptiveCardInvoke(context: TurnContext, invokeValue: AdaptiveCardInvokeValue): Promise<AdaptiveCardInvokeResponse> {
      const action = invokeValue.action;
      const data = (action?.data ?? {}) as Record<string, unknown>;
      const requestId = typeof data.requestId === 'string' ? data.requestId : undefined;
      if (!requestId) {
        return cardInvokeResponse(renderNoticeCard(errorReply(new AppError('bad_request', 'This card action does not name a request.'))));
      }
      if (action.verb === VERBS.refresh) return cardInvokeResponse(await currentCard(requestId));
      if (action.verb !== VERBS.approve && action.verb !== VERBS.deny && action.verb !== VERBS.approveStanding) {
        return cardInvokeResponse(await currentCard(requestId, errorReply(new AppError('bad_request', `Unknown card action "${String(action.verb)}".`))));
      }

      let notice: ChatReply;
      try {
        const approver = await deps.members.resolve(context);
        const reason = reasonFromAction(data, requestId);
        const presented = chatPresented('teams', approver, tenantOf(context.activity)?.toLowerCase());
        // The standing approval is asked at the bounds the request's rule allows; the core checks them again.
        const bounds = action.verb === VERBS.approveStanding ? (await deps.queries.view(requestId)).standing : null;
        const standing = bounds ? { forSeconds: bounds.maxForSeconds, uses: bounds.maxUses } : undefined;
        const decision = action.verb === VERBS.deny ? 'deny' : 'approve';
        const result = await deps.decisions.vote(requestId, { presented, approver, channel: 'teams', decision, reason, standing }, log);
        notice = voteReply(result);
        log.info({ requestId, outcome: result.outcome, status: result.status, refusal: result.outcome === 'refused' ? result.refusal : undefined }, 'Teams vote');
      } catch (err) {
        if (!(err instanceof AppError)) log.error({ err, requestId }, 'Teams vote failed');
        notice = errorReply(err);
      }
      // The shared message is updated for everyone by the delivery worker; this card is only the clicker's view.
      return cardInvokeResponse(await currentCard(requestId, notice));
    }
  }

  return new ApprovalBot();
}
