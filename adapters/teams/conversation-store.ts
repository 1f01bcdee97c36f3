/**
 * Where the bot may speak: Teams only lets a bot message a conversation it has been installed in, so every reference
 * it sees (install, first message) is kept in Postgres (`teams_conversation`) and reused for proactive cards to a
 * policy's `teams:<conversation id>` target, and for personal notifications.
 */
import type { ConversationReference } from 'botbuilder';
import type { TeamsConversationStore } from '../../src/store/teams-conversation-store';

export type StoredReference = Partial<ConversationReference>;

export interface ConversationStore {
  /** Inserts or refreshes a conversation's reference (the serviceUrl can move between regions). */
  save(reference: StoredReference, tenantId: string | undefined): Promise<void>;
  get(conversationId: string): Promise<StoredReference | null>;
  remove(conversationId: string): Promise<void>;
  /** The bot's personal (1:1) chat with this AAD user, if it has one. */
  findPersonal(aadObjectId: string): Promise<StoredReference | null>;
  /** The most recently seen reference (of `tenantId` when given): a serviceUrl and bot account to start a chat with. */
  latest(tenantId?: string): Promise<StoredReference | null>;
}

/**
 * The reference minus the id of the activity it was captured from: reused later, that id would make botbuilder send
 * a threaded reply to an old message instead of a new post.
 */
export function storableReference(reference: StoredReference): StoredReference {
  const { activityId: _activityId, ...rest } = reference;
  const copy = JSON.parse(JSON.stringify(rest)) as StoredReference;
  // AAD object ids are GUIDs Teams may send in either case; personal chats are looked up by the lower-case form.
  if (copy.user?.aadObjectId) copy.user.aadObjectId = copy.user.aadObjectId.toLowerCase();
  // A message in a channel thread carries `19:…@thread.tacv2;messageid=…`; the channel itself is what policies name
  // and where a new card must start a new thread.
  if (copy.conversation?.id) copy.conversation.id = channelConversationId(copy.conversation.id);
  return copy;
}

/** `19:abc@thread.tacv2;messageid=123` → `19:abc@thread.tacv2`. */
export function channelConversationId(conversationId: string): string {
  return conversationId.replace(/;messageid=[^;]*$/, '');
}

export function createConversationStore(deps: { store: TeamsConversationStore }): ConversationStore {
  const { store } = deps;
  return {
    async save(reference, tenantId) {
      const stored = storableReference(reference);
      const conversationId = stored.conversation?.id;
      if (!conversationId) return;
      await store.save(conversationId, tenantId ?? null, stored as Record<string, unknown>);
    },
    get: async (conversationId) => (await store.get(conversationId)) as StoredReference | null,
    remove: (conversationId) => store.remove(channelConversationId(conversationId)),
    findPersonal: async (aadObjectId) => (await store.findPersonal(aadObjectId.toLowerCase())) as StoredReference | null,
    latest: async (tenantId) => (await store.latest(tenantId)) as StoredReference | null,
  };
}
