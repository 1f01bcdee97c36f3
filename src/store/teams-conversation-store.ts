/**
 * Teams conversation references (`teams_conversation`): where the Teams adapter may speak proactively. The adapter
 * decides what a reference holds; this module only stores and finds the JSON.
 */
import type { Database } from './database';

/** A stored reference: botbuilder's ConversationReference as JSON. */
export type ConversationReferenceJson = Record<string, unknown>;

/** Port of the Teams conversations aggregate. */
export interface TeamsConversationStore {
  /** Inserts or refreshes a conversation's reference. */
  save(conversationId: string, tenantId: string | null, reference: ConversationReferenceJson): Promise<void>;
  get(conversationId: string): Promise<ConversationReferenceJson | null>;
  remove(conversationId: string): Promise<void>;
  /** The most recent personal (1:1) conversation whose user has this (lower-case) AAD object id. */
  findPersonal(aadObjectId: string): Promise<ConversationReferenceJson | null>;
  /** The most recently seen reference, of `tenantId` when given. */
  latest(tenantId?: string): Promise<ConversationReferenceJson | null>;
}

export function createTeamsConversationStore(deps: { db: Pick<Database, 'teamsConversation'> }): TeamsConversationStore {
  const table = deps.db.teamsConversation;
  const reference = (row: { reference: unknown } | null) => (row?.reference as ConversationReferenceJson | undefined) ?? null;
  return {
    async save(conversationId, tenantId, ref) {
      const now = new Date();
      await table.upsert({
        where: { conversationId },
        create: { conversationId, tenantId, reference: ref as object, updatedAt: now },
        update: { tenantId, reference: ref as object, updatedAt: now },
      });
    },

    async get(conversationId) {
      return reference(await table.findUnique({ where: { conversationId } }));
    },

    async remove(conversationId) {
      await table.deleteMany({ where: { conversationId } });
    },

    async findPersonal(aadObjectId) {
      return reference(
        await table.findFirst({
          where: {
            AND: [
              { reference: { path: ['conversation', 'conversationType'], equals: 'personal' } },
              { reference: { path: ['user', 'aadObjectId'], equals: aadObjectId } },
            ],
          },
          orderBy: { updatedAt: 'desc' },
        }),
      );
    },

    async latest(tenantId) {
      return reference(await table.findFirst({ where: tenantId ? { tenantId } : {}, orderBy: { updatedAt: 'desc' } }));
    },
  };
}
