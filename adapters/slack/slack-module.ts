/**
 * The Slack adapter, assembled: a WebClient for outbound calls, a Bolt App for inbound interactions (over
 * `POST /slack/events` on the shared Fastify server, or Socket Mode when SLACK_APP_TOKEN is set), and the
 * {@link ChatChannel} the delivery worker uses. Built from its own configuration slice and the core ports it declared
 * in slack-platform.ts.
 */
import { App, SocketModeReceiver } from '@slack/bolt';
import { WebClient, type WebClientOptions } from '@slack/web-api';
import { createChannelHealthTracker } from '../../src/channels/channel-health';
import type { ChannelModule, ChannelModuleDeps } from '../../src/channels/channel-module';
import { createBoltLogger } from './bolt-logger';
import type { SlackConfig } from './slack-config';
import type { SlackPort } from './slack-platform';
import { createSlackReceiver } from './slack-receiver';
import { createSlackOutbound } from './slack-outbound';
import { createSlackDirectory } from './slack-directory';
import { toChannelError } from './slack-errors';
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
  // Over HTTP there is no connection of ours to lose; Socket Mode is down from start() until it connects.
  const health = createChannelHealthTracker();
  const directory = createSlackDirectory({ web, log, cacheSize: c.SLACK_USER_CACHE_SIZE, cacheMs: c.SLACK_USER_CACHE_MS });
  const workspace = createSlackWorkspace({
    web, teamId: c.SLACK_TEAM_ID, log,
    onLearn: (outcome) => health.observe(outcome.ok ? outcome : { ok: false, error: toChannelError(outcome.error, 'auth.test') }),
  });

  const receiver = socketMode ? undefined : createSlackReceiver({ signingSecret: c.SLACK_SIGNING_SECRET as string, log });
  // Built here rather than by Bolt so its client's connection state can be followed (readiness).
  const socket = socketMode ? new SocketModeReceiver({ appToken: c.SLACK_APP_TOKEN as string, logger, installerOptions: { clientOptions: clientOptions() } }) : undefined;
  if (socket) {
    socket.client.on('connected', () => health.connection({ up: true }));
    // 'close' comes at once when the websocket drops; the client announces 'reconnecting' only after its backoff.
    for (const state of ['close', 'disconnected', 'reconnecting'] as const) {
      socket.client.on(state, () => health.connection({ up: false, reason: `Slack Socket Mode connection lost (${state})` }));
    }
  }
  const bolt = new App({
    // A fixed authorization: Bolt then never calls auth.test, neither at start nor per event.
    authorize: async () => ({ botToken: token, botId: c.SLACK_BOT_ID, botUserId: c.SLACK_BOT_USER_ID }),
    ...(receiver ? { receiver } : { socketMode: true, receiver: socket }),
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
  /** Whether this node takes Slack interactions (RUN_MODE=all|api): only then must it know its workspace to be ready. */
  let inbound = false;
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
      health.connection({ up: false, reason: `Slack Socket Mode cannot connect: ${toChannelError(err, 'apps.connections.open').message}` });
      log.error({ err, retryInMs: delay }, 'Slack Socket Mode connection failed; Slack interactions are unavailable until it connects');
      retryTimer = setTimeout(() => void connect(attempt + 1), delay);
      retryTimer.unref();
    }
  }

  return {
    channel: health.watch(createSlackOutbound({ web, directory, botId: c.SLACK_BOT_ID })),
    health: () => {
      const h = health.health();
      // Until auth.test names the workspace, every interaction is refused (slack-workspace.ts).
      if (h.ok && inbound && !workspace.teamId()) return { ok: false, reason: 'Slack workspace not known yet (auth.test has not answered): interactions are refused' };
      return h;
    },
    // Inbound traffic needs to know its workspace first; the outbound channel (workers) never asks.
    registerRoutes: receiver
      ? async (app) => {
          inbound = true;
          await workspace.learn();
          await receiver.register(app);
        }
      : undefined,
    start: socketMode
      ? async () => {
          inbound = true;
          health.connection({ up: false, reason: 'Slack Socket Mode is not connected yet' });
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
