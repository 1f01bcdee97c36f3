/**
 * The Slack adapter, assembled: a WebClient for outbound calls, a Bolt App for inbound interactions (over
 * `POST /slack/events` on the shared Fastify server, or Socket Mode when SLACK_APP_TOKEN is set), and the
 * {@link ChatChannel} the delivery worker uses.
 */
import { App } from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { ChannelModule, ChannelModuleDeps } from '../../src/channels/channel-module';
import { createBoltLogger } from './bolt-logger';
import { createFastifyReceiver } from './fastify-receiver';
import { createSlackChannel } from './slack-channel';
import { createSlackDirectory } from './slack-directory';
import { registerSlackListeners } from './slack-listeners';

/** A hung Slack call must not hold a worker slot forever; the worker retries timeouts like other transient faults. */
const SLACK_CALL_TIMEOUT_MS = 10_000;

/** Splits SLACK_AUDIT_ACCESS into Slack user group ids (`S…`); policy group names are the core's business. */
export function slackUserGroups(access: string | undefined): string[] {
  return (access ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^S[A-Z0-9]+$/.test(s));
}

/**
 * Builds the Slack channel module.
 * Needs SLACK_BOT_TOKEN, and SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode); see `enabledChannels`.
 */
export function createSlackModule(deps: ChannelModuleDeps): ChannelModule {
  const c = deps.config;
  const token = c.SLACK_BOT_TOKEN;
  if (!token) throw new Error('SLACK_BOT_TOKEN is required for the Slack adapter');
  const socketMode = Boolean(c.SLACK_APP_TOKEN);
  if (!socketMode && !c.SLACK_SIGNING_SECRET) throw new Error('SLACK_SIGNING_SECRET is required for the Slack adapter without SLACK_APP_TOKEN');

  const log = deps.log.child({ component: 'slack' });
  const logger = createBoltLogger(log);
  // The delivery worker owns retries, backoff and Retry-After: the SDK must fail fast and report throttling.
  const clientOptions = (): WebClientOptions => ({
    ...(c.SLACK_API_URL ? { slackApiUrl: c.SLACK_API_URL } : {}),
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: SLACK_CALL_TIMEOUT_MS,
    logger,
  });
  const web = new WebClient(token, clientOptions());
  const directory = createSlackDirectory({ web, log, cacheSize: c.SLACK_USER_CACHE_SIZE, cacheMs: c.SLACK_USER_CACHE_MS });

  const receiver = socketMode ? undefined : createFastifyReceiver({ signingSecret: c.SLACK_SIGNING_SECRET as string, log });
  const bolt = new App({
    // A fixed authorization: Bolt then never calls auth.test, neither at start nor per event.
    authorize: async () => ({ botToken: token, botId: c.SLACK_BOT_ID, botUserId: c.SLACK_BOT_USER_ID }),
    ...(receiver ? { receiver } : { socketMode: true, appToken: c.SLACK_APP_TOKEN }),
    clientOptions: clientOptions(),
    logger,
    // Conversation state is unused; the default in-memory store would only grow.
    convoStore: false,
  });
  bolt.error(async (err) => {
    log.error({ err }, 'Slack listener failed');
  });

  registerSlackListeners(bolt, {
    decisions: deps.decisions,
    queries: deps.queries,
    commands: deps.commands,
    directory,
    web,
    log,
    command: c.SLACK_COMMAND,
    auditUserGroups: slackUserGroups(c.SLACK_AUDIT_ACCESS),
  });

  let started = false;
  return {
    channel: createSlackChannel({ web, directory }),
    registerRoutes: receiver ? (app) => receiver.register(app) : undefined,
    start: socketMode
      ? async () => {
          await bolt.start();
          started = true;
          log.info('Slack Socket Mode connected');
        }
      : undefined,
    async stop() {
      if (started) {
        started = false;
        await bolt.stop();
      }
    },
  };
}
