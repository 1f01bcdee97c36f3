/**
 * The Teams ChatChannel on its own, against the fake Bot Connector: what it sends, and how each failure is classified
 * for the delivery worker. botbuilder must not retry on its own: a throttled call reaches the connector exactly once
 * and comes back at once, whatever Retry-After says.
 */
import pino from 'pino';
import { createTeamsModule } from '../../adapters/teams/teams-module';
import type { TeamsMessageRef } from '../../adapters/teams/teams-outbound';
import { buildApprovalView, type ApprovalView } from '../../src/domain/approval-view';
import { loadConfig } from '../../src/config/config';
import { ChannelError, type ChatChannel } from '../../src/ports/chat-channel';
import type { Database } from '../../src/store/database';
import { createStore } from '../../src/store/store';
import { startFakeBotConnector, type FakeBotConnector } from '../fakes/fake-bot-connector';
import { BOT_ID, CHANNEL_ID, TEAMS_USERS, TENANT_ID } from '../fakes/teams-activities';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { cardOf, cardText } from './teams-test-app';

let database: TestDatabase;
let db: Database;
let store: ReturnType<typeof createStore>;
let fake: FakeBotConnector;
let channel: ChatChannel;

const view: ApprovalView = buildApprovalView(
  {
    id: '3d8f1c2a-6b4e-4f0a-9c1d-2e3f4a5b6c7d', status: 'pending', action: 'deploy.prod', resource: 'k8s://prod/api', environment: 'production', risk: 'medium',
    justification: null, requester: { id: 'ci', type: 'service' }, onBehalfOf: null, context: { version: '1.2.3' }, policyRule: 'one-person-deploy',
    approvalsRequired: 1, requirement: { approvers: ['approvers'], reason: 'none' }, createdAt: new Date(), expiresAt: new Date(Date.now() + 3_600_000),
    decidedAt: null, decidedBy: null, decisionReason: null, traceId: null,
  },
  [],
);

function reference(conversationId: string, serviceUrl: string, extra: Record<string, unknown> = {}) {
  return {
    channelId: 'msteams', serviceUrl, bot: { id: BOT_ID, name: 'Countersign' },
    conversation: { id: conversationId, isGroup: true, conversationType: 'channel', tenantId: TENANT_ID }, ...extra,
  };
}

beforeAll(async () => {
  database = await createTestDatabase();
  store = createStore({ url: database.url, poolSize: 2 });
  db = store.db;
  fake = await startFakeBotConnector();
  const none = {} as never;
  channel = createTeamsModule({
    config: loadConfig({ TEAMS_ALLOW_UNAUTHENTICATED: 'true' }), log: pino({ level: 'silent' }), auditGroups: [], interactionConcurrency: 2,
    ports: { teamsConversations: store.teamsConversations, groupMembers: () => [], decisions: none, queries: none, commands: none, audit: none },
  }).channel;
  await db.teamsConversation.create({ data: { conversationId: CHANNEL_ID, tenantId: TENANT_ID, reference: reference(CHANNEL_ID, fake.url) } });
  // A conversation whose connector is gone (seen long ago).
  await db.teamsConversation.create({ data: { conversationId: '19:gone@thread.tacv2', tenantId: TENANT_ID, reference: reference('19:gone@thread.tacv2', 'http://127.0.0.1:1/'), updatedAt: new Date(Date.now() - 86_400_000) } });
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await store?.close();
  await fake?.close();
  await database?.drop();
});

async function failure(p: Promise<unknown>): Promise<ChannelError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ChannelError);
  return err as ChannelError;
}

describe('Teams ChatChannel', () => {
  it('posts a new message (not a threaded reply) and returns what updating it needs', async () => {
    const ref = (await channel.postCard(CHANNEL_ID, view)) as TeamsMessageRef;
    expect(fake.callsOf('send')).toHaveLength(1);
    const [call] = fake.callsOf('send');
    expect(call.path).toBe(`/v3/conversations/${encodeURIComponent(CHANNEL_ID)}/activities`);
    expect(call.body.replyToId).toBeUndefined();
    expect(cardText(cardOf(call.body))).toContain('Action: deploy.prod');
    expect(ref).toEqual({ conversationId: CHANNEL_ID, activityId: fake.activitiesIn(CHANNEL_ID)[0].id, serviceUrl: fake.url, tenantId: TENANT_ID, channelId: 'msteams' });

    await channel.updateCard(ref, { ...view, status: 'approved', final: true, decidedBy: 'Alice', decidedAt: new Date().toISOString() });
    const [update] = fake.callsOf('update');
    expect(update).toMatchObject({ method: 'PUT', conversationId: CHANNEL_ID, activityId: ref.activityId, status: 200 });
    expect(cardText(cardOf(fake.activity(CHANNEL_ID, ref.activityId)!.current))).toContain('Outcome: Approved');
  });

  it('surfaces a 429 at once with its Retry-After, after exactly one call', async () => {
    fake.failNext('send', { status: 429, headers: { 'Retry-After': '7' } });
    const started = Date.now();
    const err = await failure(channel.postCard(CHANNEL_ID, view));
    expect(err).toMatchObject({ code: 'http_429', retryable: true, retryAfterMs: 7000 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(fake.callsOf('send')).toHaveLength(1);
  });

  it('classifies 5xx and unreachable connectors as retryable, 403 and unknown activities as permanent', async () => {
    fake.failNext('send', { status: 503 });
    expect(await failure(channel.postCard(CHANNEL_ID, view))).toMatchObject({ code: 'http_503', retryable: true });
    expect(fake.callsOf('send')).toHaveLength(1);

    fake.failNext('send', { status: 403, body: { error: { code: 'BotNotInConversationRoster', message: 'The bot is not part of the conversation roster.' } } });
    expect(await failure(channel.postCard(CHANNEL_ID, view))).toMatchObject({ code: 'http_403', retryable: false });

    expect(await failure(channel.postCard('19:gone@thread.tacv2', view))).toMatchObject({ code: 'network_error', retryable: true });

    const missing: TeamsMessageRef = { conversationId: CHANNEL_ID, activityId: '999', serviceUrl: fake.url, tenantId: TENANT_ID, channelId: 'msteams' };
    expect(await failure(channel.updateCard(missing, view))).toMatchObject({ code: 'http_404', retryable: false });
  });

  it('refuses a conversation it was never installed in without calling Teams', async () => {
    expect(await failure(channel.postCard('19:unknown@thread.tacv2', view))).toMatchObject({ code: 'conversation_not_found', retryable: false });
    expect(fake.calls).toHaveLength(0);
  });

  it('notifies only people it can reach by Teams id', async () => {
    expect(await channel.notify({ email: 'someone@example.com' }, view)).toBeNull();
    expect(fake.calls).toHaveLength(0);
    const ref = await channel.notify({ teamsUserId: TEAMS_USERS.carol.aadObjectId, name: 'Carol' }, { ...view, status: 'denied', final: true });
    expect(ref).toMatchObject({ conversationId: expect.stringMatching(/^a:1/), activityId: expect.any(String) });
    expect(fake.callsOf('createConversation')[0].body).toMatchObject({ isGroup: false, bot: { id: BOT_ID }, members: [{ id: TEAMS_USERS.carol.aadObjectId }], tenantId: TENANT_ID });
    expect(fake.callsOf('send')[0].conversationId).toBe((ref as TeamsMessageRef).conversationId);

    // Creating the chat is not retried by botbuilder either.
    fake.failNext('createConversation', { status: 429, headers: { 'Retry-After': '3' } });
    expect(await failure(channel.notify({ teamsUserId: TEAMS_USERS.dave.aadObjectId }, { ...view, status: 'denied', final: true }))).toMatchObject({ code: 'http_429', retryAfterMs: 3000 });
    expect(fake.callsOf('createConversation')).toHaveLength(2);
  });
});
