/**
 * The Slack adapter, assembled: a WebClient for outbound calls, a Bolt App for inbound interactions (over
 * `POST /slack/events` on the shared Fastify server, or Socket Mode when SLACK_APP_TOKEN is set), and the
 * {@link ChatChannel} the delivery worker uses. Built from its own configuration slice and the core ports it declared
 * in slack-platform.ts.
 */
import { App } from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { ChannelModule, ChannelModuleDeps } from '../../src/channels/channel-module';
import { createBoltLogger } from './bolt-logger';
import type { SlackConfig } from './slack-config';
import type { SlackPort } from './slack-platform';
import { createSlackReceiver } from './slack-receiver';
import { createSlackOutbound } from './slack-outbound';
import { createSlackDirectory } from './slack-directory';
import { registerSlackInbound } from './slack-inbound';
import { createSlackWorkspace } from './slack-workspace';
import { createWorkLimiter } from './work-limiter';

/** Clicks waiting for their vote beyond this are shed with a "busy, try again" reply rather than queued without bound. */
const MAX_QUEUED_INTERACTIONS = 10_000;

export type SlackModuleDeps = ChannelModuleDeps<SlackConfig, SlackPort>;

/**
 * Builds the Slack channel module.
 * Needs SLACK_BOT_TOKEN, and SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode); see `slackConfig.enabled`.
 */
export function createSlackModule(deps: SlackModuleDeps): ChannelModule {
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
    // A hung Slack call must not hold a worker slot forever; the worker retries timeouts like other transient faults
    // (and looks for the card first, since Slack may have posted it before the answer was lost).
    timeout: c.SLACK_TIMEOUT_MS,
    logger,
  });
  const web = new WebClient(token, clientOptions());
  const directory = createSlackDirectory({ web, log, cacheSize: c.SLACK_USER_CACHE_SIZE, cacheMs: c.SLACK_USER_CACHE_MS });
  const workspace = createSlackWorkspace({ web, teamId: c.SLACK_TEAM_ID, log });

  const receiver = socketMode ? undefined : createSlackReceiver({ signingSecret: c.SLACK_SIGNING_SECRET as string, log });
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

  const limiter = createWorkLimiter({
    concurrency: deps.interactionConcurrency,
    maxQueued: MAX_QUEUED_INTERACTIONS,
    onError: (err) => log.error({ err }, 'Slack interaction failed'),
  });
  registerSlackInbound(bolt, {
    decisions: deps.ports.decisions,
    queries: deps.ports.queries,
    commands: deps.ports.commands,
    directory,
    workspace,
    audit: deps.ports.audit,
    web,
    log,
    command: c.SLACK_COMMAND,
    // Policy group names in the same setting are already applied by the command service.
    auditUserGroups: deps.auditGroups,
    limiter,
  });

  let stopped = false;
  let retryTimer: NodeJS.Timeout | undefined;
  /**
   * Opens the Socket Mode connection. A Slack outage or a bad app token must not keep the API from starting, so a
   * failure is logged and retried in the background (1 s, 2 s, … up to a minute) until it works or the module stops.
   */
  async function connect(attempt: number): Promise<void> {
    try {
      await bolt.start();
      // stop() may have run while we were connecting: do not leave a websocket open behind it.
      if (stopped) return void (await bolt.stop().catch(() => undefined));
      log.info('Slack Socket Mode connected');
    } catch (err) {
      if (stopped) return;
      const delay = Math.min(60_000, 1_000 * 2 ** attempt);
      log.error({ err, retryInMs: delay }, 'Slack Socket Mode connection failed; Slack interactions are unavailable until it connects');
      retryTimer = setTimeout(() => void connect(attempt + 1), delay);
      retryTimer.unref();
    }
  }

  return {
    channel: createSlackOutbound({ web, directory, botId: c.SLACK_BOT_ID }),
    // Inbound traffic needs to know its workspace first; the outbound channel (workers) never asks.
    registerRoutes: receiver
      ? async (app) => {
          await workspace.learn();
          await receiver.register(app);
        }
      : undefined,
    start: socketMode
      ? async () => {
          await workspace.learn();
          await connect(0);
        }
      : undefined,
    async stop() {
      stopped = true;
      workspace.stop();
      clearTimeout(retryTimer);
      // Also when never connected: the Socket Mode client may be inside its own reconnect loop.
      if (socketMode) await bolt.stop().catch((err: unknown) => log.warn({ err }, 'Slack Socket Mode disconnect failed'));
      // Clicks already acknowledged deserve their vote and reply before the database goes away.
      await limiter.idle();
    },
  };
}
