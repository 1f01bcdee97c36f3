/**
 * The Teams side of the core's {@link ChatChannel} port: posts approval cards proactively to conversations the bot
 * was installed in, replaces them in place for everyone, and tells requesters the outcome in a personal chat.
 * Every failure is thrown as a classified {@link ChannelError}; the delivery worker decides whether to try again.
 */
import { type Activity, type CloudAdapter, type ConversationParameters, type ConversationReference } from 'botbuilder';
import type pino from 'pino';
import { reminderText } from '../../src/channels/reminder-text';
import { STATUS_WORDS } from '../../src/channels/status-words';
import type { ApprovalView } from '../../src/domain/approval-view';
import type { PersonIdentity } from '../../src/domain/identity';
import { ChannelError, type ChatChannel, type MessageRef } from '../../src/ports/chat-channel';
import { cardActivity, type AdaptiveCard } from './teams-render';
import { toChannelError } from './teams-errors';
import { connectorOf } from './connector';
import type { ConversationStore, StoredReference } from './conversation-store';

/** Where a card lives, as stored in `delivery.message_ref`: enough to update it without any other lookup. */
export interface TeamsMessageRef extends MessageRef {
  conversationId: string;
  activityId: string;
  serviceUrl: string;
  tenantId: string | null;
  channelId: 'msteams';
}

function isMessageRef(ref: MessageRef): ref is TeamsMessageRef {
  return typeof ref.conversationId === 'string' && typeof ref.activityId === 'string' && typeof ref.serviceUrl === 'string';
}

function tenantOfReference(ref: StoredReference): string | null {
  return (ref.conversation as { tenantId?: string } | undefined)?.tenantId ?? null;
}

export function createTeamsOutbound(deps: {
  adapter: Pick<CloudAdapter, 'continueConversationAsync'>;
  /** The bot's app id ('' when running unauthenticated). */
  appId: string;
  store: ConversationStore;
  /** Renders the shared card for everyone (no per-user notice). */
  renderCard: (view: ApprovalView) => AdaptiveCard;
  /** Renders the requester's outcome notification. */
  renderNotification: (view: ApprovalView) => AdaptiveCard;
  /** MICROSOFT_APP_TENANT_ID: personal chats are opened in this tenant. */
  tenantId?: string;
  log: pino.Logger;
}): ChatChannel {
  const { adapter, appId, store } = deps;

  /**
   * Sends one activity as a new message in a conversation. The connector is called directly inside the proactive
   * turn because TurnContext.sendActivity would turn it into a threaded reply to the synthetic continuation activity.
   */
  async function send(reference: StoredReference, activity: Partial<Activity>, operation: string): Promise<TeamsMessageRef> {
    const conversationId = reference.conversation!.id;
    let activityId: string | undefined;
    try {
      await adapter.continueConversationAsync(appId, reference, async (context) => {
        const sent = await connectorOf(context).conversations.sendToConversation(conversationId, {
          ...activity,
          from: reference.bot,
          conversation: reference.conversation as Activity['conversation'],
          channelId: 'msteams',
        });
        activityId = sent?.id;
      });
    } catch (err) {
      throw toChannelError(err, operation);
    }
    if (!activityId) throw new ChannelError('no_activity_id', `Teams accepted the ${operation} but returned no activity id`, false);
    return { conversationId, activityId, serviceUrl: reference.serviceUrl!, tenantId: tenantOfReference(reference), channelId: 'msteams' };
  }

  return {
    kind: 'teams',

    async postCard(destination, view) {
      const reference = await store.get(destination);
      if (!reference?.serviceUrl || !reference.conversation?.id) {
        throw new ChannelError(
          'conversation_not_found',
          `Countersign has no Teams conversation ${destination}: install the Countersign app in that team, channel or chat (or message the bot there) first.`,
          false,
        );
      }
      const tenant = tenantOfReference(reference)?.toLowerCase();
      if (deps.tenantId && tenant && tenant !== deps.tenantId.toLowerCase()) {
        throw new ChannelError('foreign_tenant', `Teams conversation ${destination} belongs to another tenant than MICROSOFT_APP_TENANT_ID; Countersign does not post there.`, false);
      }
      return send(reference, cardActivity(deps.renderCard(view), `${STATUS_WORDS.pending.word}: ${view.action}`), 'postCard');
    },

    async updateCard(ref, view) {
      if (!isMessageRef(ref)) throw new ChannelError('invalid_message_ref', 'The stored Teams message reference is incomplete', false);
      const reference: Partial<ConversationReference> = {
        channelId: 'msteams',
        serviceUrl: ref.serviceUrl,
        conversation: { id: ref.conversationId, tenantId: ref.tenantId ?? undefined } as ConversationReference['conversation'],
      };
      try {
        await adapter.continueConversationAsync(appId, reference, async (context) => {
          await connectorOf(context).conversations.updateActivity(ref.conversationId, ref.activityId, {
            ...cardActivity(deps.renderCard(view)),
            id: ref.activityId,
            conversation: reference.conversation,
            channelId: 'msteams',
          });
        });
      } catch (err) {
        throw toChannelError(err, 'updateCard');
      }
    },

    async remind(ref, view) {
      if (!isMessageRef(ref)) throw new ChannelError('invalid_message_ref', 'The stored Teams message reference is incomplete', false);
      // A new message in the card's conversation (proactive messages cannot reply into a thread reliably in chats).
      const reference = {
        channelId: 'msteams',
        serviceUrl: ref.serviceUrl,
        conversation: { id: ref.conversationId, tenantId: ref.tenantId ?? undefined },
      } as StoredReference;
      return send(reference, { type: 'message', text: reminderText(view, new Date(), 'symbol') }, 'remind');
    },

    async notify(person: PersonIdentity, view) {
      const aad = person.teamsUserId?.trim().toLowerCase();
      // Teams can only be reached by AAD object id; a person known by email alone is left to other channels.
      if (!aad) return null;
      const activity = cardActivity(deps.renderNotification(view), `Your request ${view.action} was ${view.status}`);

      const personal = await store.findPersonal(aad);
      if (personal) return send(personal, activity, 'notify');

      const base = await store.latest(deps.tenantId);
      if (!base?.serviceUrl || !base.conversation?.id) return null;
      const tenantId = tenantOfReference(base);
      const parameters = {
        isGroup: false,
        bot: base.bot!,
        members: [{ id: aad, name: person.name ?? '' }],
        tenantId: tenantId ?? undefined,
        channelData: tenantId ? { tenant: { id: tenantId } } : {},
      } as ConversationParameters;
      let result: TeamsMessageRef | undefined;
      try {
        // adapter.createConversationAsync would make the create call on a connector client of its own, before any
        // middleware runs, so with botbuilder's retries still on. A turn on a known conversation of the same service
        // gives the same authenticated client with retries off; the 1:1 chat is created and written to with it.
        await adapter.continueConversationAsync(appId, base, async (context) => {
          const connector = connectorOf(context);
          const created = await connector.conversations.createConversation(parameters);
          const reference: StoredReference = {
            channelId: 'msteams',
            serviceUrl: base.serviceUrl,
            bot: base.bot,
            user: { id: aad, name: person.name ?? '', aadObjectId: aad } as ConversationReference['user'],
            conversation: { id: created.id, conversationType: 'personal', tenantId: tenantId ?? undefined, isGroup: false } as ConversationReference['conversation'],
          };
          const sent = await connector.conversations.sendToConversation(created.id, { ...activity, from: base.bot, conversation: reference.conversation as Activity['conversation'], channelId: 'msteams' });
          if (!sent?.id) throw new ChannelError('no_activity_id', 'Teams accepted the notification but returned no activity id', false);
          result = { conversationId: created.id, activityId: sent.id, serviceUrl: base.serviceUrl!, tenantId, channelId: 'msteams' };
          // Reuse this chat next time instead of asking Teams for it again.
          await store.save(reference, tenantId ?? undefined).catch((err) => deps.log.warn({ err }, 'could not store the personal conversation'));
        });
      } catch (err) {
        throw toChannelError(err, 'notify');
      }
      return result ?? null;
    },
  };
}
