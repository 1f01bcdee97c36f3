/**
 * The outbound side against the fake Slack Web API, through the real WebClient configured as the module configures
 * it (no SDK retries, rate-limited calls rejected): rendering reaches Slack in its wire format, and every failure
 * comes back as a correctly classified ChannelError.
 */
import { WebClient } from '@slack/web-api';
import pino from 'pino';
import { buildApprovalView } from '../../src/domain/approval-view';
import { ChannelError } from '../../src/ports/chat-channel';
import { createBoltLogger } from '../../adapters/slack/bolt-logger';
import { createSlackOutbound } from '../../adapters/slack/slack-outbound';
import { createSlackDirectory } from '../../adapters/slack/slack-directory';
import { toChannelError } from '../../adapters/slack/slack-errors';
import { startFakeSlackApi, type FakeSlackApi } from '../fakes/fake-slack-api';

const log = pino({ level: 'silent' });
let fake: FakeSlackApi;
let web: WebClient;

const view = buildApprovalView({
  id: '5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e5f', status: 'pending', action: 'dataset.export', resource: 'warehouse://prod/customers',
  environment: 'production', risk: 'high', justification: 'why', requester: { id: 'agent', type: 'agent', email: 'agent@example.com' },
  onBehalfOf: { email: 'frank@example.com' }, context: { rows: 1 }, policyRule: 'r', approvalsRequired: 1,
  requirement: { approvers: ['approvers'], reason: 'on-deny' }, createdAt: new Date(), expiresAt: new Date(Date.now() + 3600_000),
  decidedAt: null, decidedBy: null, decisionReason: null, traceId: null,
}, []);

function client(token = fake.botToken, url = fake.apiUrl) {
  return new WebClient(token, { slackApiUrl: url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 2_000, logger: createBoltLogger(log) });
}

async function caught(p: Promise<unknown>): Promise<ChannelError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ChannelError);
    return err as ChannelError;
  }
  throw new Error('expected a ChannelError');
}

beforeAll(async () => {
  fake = await startFakeSlackApi();
  fake.addChannel('C0000DATA');
  fake.addChannel('C0000OLD', { archived: true });
  fake.addChannel('C0000OUT', { member: false });
  fake.addUser({ id: 'U0000FRANK', name: 'frank', email: 'Frank@Example.com' });
  web = client();
});
afterAll(async () => {
  await fake.close();
});

describe('Slack channel', () => {
  const channel = () => createSlackOutbound({ web, directory: createSlackDirectory({ web, log, cacheSize: 10, cacheMs: 60_000 }) });

  it('posts the card form-encoded with JSON blocks and a Bearer token, then updates it in place', async () => {
    const ref = await channel().postCard('C0000DATA', view);
    expect(ref).toEqual({ channel: 'C0000DATA', ts: expect.stringMatching(/^\d+\.\d{6}$/) });
    const [post] = fake.callsTo('chat.postMessage');
    expect(post.contentType).toContain('application/x-www-form-urlencoded');
    expect(post.token).toBe(fake.botToken);
    expect(Array.isArray(post.args.blocks)).toBe(true);
    expect(post.args.text).toContain('dataset.export');

    const decided = { ...view, status: 'approved' as const, final: true, decidedBy: 'alice', decidedAt: new Date().toISOString(), version: 'approved:1' };
    await channel().updateCard(ref, decided);
    const msg = fake.messages.get(`${ref.channel}:${ref.ts}`)!;
    expect(msg.history).toHaveLength(2);
    expect(JSON.stringify(msg.blocks)).toContain('*Approved* by alice');
    expect(msg.blocks!.some((b) => b.type === 'actions')).toBe(false);
  });

  it('DMs a person known only by email, and returns null for strangers', async () => {
    const ref = await channel().notify({ email: 'frank@example.com' }, view);
    expect(ref).toEqual({ channel: 'D0000FRANK', ts: expect.any(String) });
    expect(fake.callsTo('users.lookupByEmail').at(-1)!.args.email).toBe('frank@example.com');
    expect(fake.callsTo('conversations.open').at(-1)!.args.users).toBe('U0000FRANK');
    expect(await channel().notify({ email: 'nobody@example.com' }, view)).toBeNull();
    expect(await channel().notify({ id: 'agent-without-email' }, view)).toBeNull();
  });

  it('classifies 429 with Retry-After as retryable with the wait', async () => {
    fake.fail('chat.postMessage', { status: 429, retryAfterSeconds: 7 });
    const err = await caught(channel().postCard('C0000DATA', view));
    expect(err).toMatchObject({ code: 'ratelimited', retryable: true, retryAfterMs: 7000 });
  });

  it.each([
    ['channel_not_found', 'C0000NOPE'],
    ['is_archived', 'C0000OLD'],
    ['not_in_channel', 'C0000OUT'],
  ])('classifies %s as permanent', async (code, destination) => {
    const err = await caught(channel().postCard(destination, view));
    expect(err).toMatchObject({ code, retryable: false });
  });

  it('classifies invalid_auth as permanent and internal_error as retryable', async () => {
    const bad = createSlackOutbound({ web: client('xoxb-wrong'), directory: createSlackDirectory({ web, log, cacheSize: 1, cacheMs: 0 }) });
    expect(await caught(bad.postCard('C0000DATA', view))).toMatchObject({ code: 'invalid_auth', retryable: false });
    fake.fail('chat.update', { error: 'internal_error' });
    expect(await caught(channel().updateCard({ channel: 'C0000DATA', ts: '1.000001' }, view))).toMatchObject({ code: 'internal_error', retryable: true });
  });

  it('classifies HTTP 5xx and network failures as retryable', async () => {
    fake.fail('chat.postMessage', { status: 503, error: 'service_unavailable' });
    expect(await caught(channel().postCard('C0000DATA', view))).toMatchObject({ code: 'http_503', retryable: true });
    const down = createSlackOutbound({ web: client(fake.botToken, 'http://127.0.0.1:9/api/'), directory: createSlackDirectory({ web, log, cacheSize: 1, cacheMs: 0 }) });
    expect(await caught(down.postCard('C0000DATA', view))).toMatchObject({ code: 'network_error', retryable: true });
  });

  it('keeps unknown errors retryable and passes ChannelErrors through', () => {
    expect(toChannelError(new TypeError('boom'), 'x')).toMatchObject({ code: 'unexpected_error', retryable: true });
    const ce = new ChannelError('c', 'm', false);
    expect(toChannelError(ce, 'x')).toBe(ce);
  });
});

describe('Slack directory', () => {
  it('resolves a user once per TTL, sharing concurrent look-ups', async () => {
    fake.addUser({ id: 'U0000ALICE', name: 'alice', realName: 'Alice Example', email: 'alice@example.com' });
    const dir = createSlackDirectory({ web, log, cacheSize: 10, cacheMs: 60_000 });
    const before = fake.callsTo('users.info').length;
    const people = await Promise.all(Array.from({ length: 10 }, () => dir.person('U0000ALICE')));
    expect(people[0]).toEqual({ slackUserId: 'U0000ALICE', email: 'alice@example.com', name: 'Alice Example' });
    expect(fake.callsTo('users.info').length - before).toBe(1);
  });

  it('forgets failures and respects the size bound', async () => {
    const dir = createSlackDirectory({ web, log, cacheSize: 1, cacheMs: 60_000 });
    fake.fail('users.info', { status: 429, retryAfterSeconds: 1 });
    await expect(dir.person('U0000FRANK')).rejects.toBeDefined();
    await expect(dir.person('U0000FRANK')).resolves.toMatchObject({ email: 'Frank@Example.com' });
    const before = fake.callsTo('users.info').length;
    await dir.person('U0000ALICE'); // evicts frank (size 1)
    await dir.person('U0000FRANK');
    expect(fake.callsTo('users.info').length - before).toBe(2);
  });

  it('checks user group membership', async () => {
    fake.setUserGroup('S0000AUDIT', ['U0000ALICE']);
    const dir = createSlackDirectory({ web, log, cacheSize: 10, cacheMs: 60_000 });
    expect(await dir.inUserGroups('U0000ALICE', ['S0000NONE', 'S0000AUDIT'])).toBe(true);
    expect(await dir.inUserGroups('U0000FRANK', ['S0000AUDIT'])).toBe(false);
  });
});
