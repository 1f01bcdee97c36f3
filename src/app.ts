/**
 * The composition root: the only place that knows every concrete implementation. It builds the database, Redis
 * connections, queues, services, chat channel modules and the HTTP server from one parsed {@link Config}, and owns
 * the order of start-up and graceful shutdown. Each chat platform gets its own configuration keys, a logger and the
 * core ports it declared, never the whole configuration or the database.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type pino from 'pino';
import { configSlice, type Config } from './config/config';
import { checkPolicyText, loadPolicyFile } from './config/load-policy';
import { readPolicyText, watchPolicyFile } from './config/policy-watcher';
import type { Policy } from './domain/policy';
import { buildServer } from './http/server';
import { createMetrics } from './observability/metrics';
import { createTracing, SpanKind } from './observability/tracing';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { DeliveryService } from './deliveries/delivery-service';
import type { DecisionService } from './services/decision-service';
import type { IntakeService } from './services/intake-service';
import { parseAuditAccess } from './channels/audit-access';
import type { AnyChatPlatform, ChannelModule, ChatPorts } from './channels/channel-module';
import type { ChannelKind, ChatChannel } from './ports/chat-channel';
import { createQueues } from './queue/queues';
import { createReconciler } from './queue/reconciler';
import { createRedisLimits } from './queue/redis-limits';
import { createRedisPostedMessages } from './queue/redis-posted-messages';
import { createRedisRequestEvents } from './queue/redis-request-events';
import { startWorkers, type Workers } from './queue/workers';
import { createCallbackChannel } from './deliveries/callback-channel';
import { createCallbackHostPolicy } from './deliveries/callback-guard';
import { identityKey } from './domain/people';
import { createEvidencePackExporter } from './evidence/evidence-pack';
import { createPolicyService, type PolicyReloadResult } from './services/policy-service';
import { createExpiryWarningService } from './services/expiry-warning-service';
import { createReminderService } from './services/reminder-service';
import { createDirectoryService } from './services/directory-service';
import { createGrantService } from './services/grant-service';
import { createDeliveryService } from './deliveries/delivery-service';
import { createEvidence } from './evidence/evidence';
import { createApiKeyService, parseBootstrapKeys } from './services/api-key-service';
import { createAuditService } from './services/audit-service';
import { createChatCommandService } from './services/chat-command-service';
import { createConsoleOidcService } from './services/console-oidc-service';
import { createConsoleRequestService } from './services/console-request-service';
import { consoleRequestRoutes } from './http/routes/console-request-routes';
import { consoleStandingRoutes } from './http/routes/console-standing-routes';
import { consoleLineageRoutes } from './http/routes/console-lineage-routes';
import { consoleAuditRoutes } from './http/routes/console-audit-routes';
import { createConsoleSessionService } from './services/console-session-service';
import { createDecisionService } from './services/decision-service';
import { createIntakeService } from './services/intake-service';
import { createStandingApprovalService } from './services/standing-approval-service';
import { createLineageService } from './services/lineage-service';
import { createRequestQueryService } from './services/request-query-service';
import { platforms } from './platforms';
import { createStore } from './store/store';
import { describeDatabaseError } from './store/database';
import { findMigrationsDir, shippedMigrations } from './store/migrate';

export interface AppOptions {
  log: pino.Logger;
  /** The chat platforms to build when their configuration switches them on; default: every registered one. */
  platforms?: readonly AnyChatPlatform[];
  clock?: () => Date;
  /** Where spans go instead of OTLP (OTEL_EXPORTER_OTLP_ENDPOINT): e.g. an in-memory exporter to read them back. */
  spanExporter?: SpanExporter;
  /** Where the migrations this build ships are (readiness compares them with the database); default: found above src/. */
  migrationsDir?: string;
}

export async function createApp(config: Config, opts: AppOptions) {
  const { log } = opts;
  const clock = opts.clock ?? (() => new Date());
  const baseUrl = (config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, '');
  const bootstrapKeys = parseBootstrapKeys(config.API_KEYS);

  const store = createStore({ url: config.DATABASE_URL, poolSize: config.DATABASE_POOL_SIZE, onError: (err) => log.warn({ err }, 'database connection error') });
  const audit = createAuditService({ audit: store.audit });
  const policies = createPolicyService({
    initial: loadPolicyFile(config.POLICY_FILE), policies: store.policies, audit, file: config.POLICY_FILE, clock,
    check: checkPolicyText, hashText: (text) => createHash('sha256').update(text).digest('hex'),
  });
  const policy = (): Policy => policies.current();
  const redisErr = (name: string) => (err: Error) => log.warn({ err, connection: name }, 'redis connection error');
  // Three roles, three connections: producers must fail fast while Redis is down (HTTP answers 503), workers must
  // block and retry forever (BullMQ requires maxRetriesPerRequest: null), and a subscriber cannot issue commands.
  const producer = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 }).on('error', redisErr('producer'));
  const subscriber = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null }).on('error', redisErr('subscriber'));
  let workerConnection: Redis | undefined;

  const metrics = createMetrics();
  const tracing = createTracing({ serviceName: config.OTEL_SERVICE_NAME, endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, exporter: opts.spanExporter });
  /** Runs `fn` in a span continuing the trace stored with the request at intake (a tracing failure never fails `fn`). */
  const inRequestSpan = async <T>(name: string, requestId: string, kind: SpanKind, attributes: Record<string, string>, fn: () => Promise<T>): Promise<T> => {
    // Without tracing, no look-up of the stored context: deliveries and votes cost what they did.
    if (!tracing.enabled) return fn();
    const traceParent = await store.requests.traceParentOf(requestId).catch(() => null);
    return tracing.inSpan(name, { traceParent, kind, attributes: { 'countersign.request_id': requestId, ...attributes } }, () => fn());
  };
  const queues = createQueues({ connection: producer, prefix: config.REDIS_PREFIX, attempts: config.DELIVERY_ATTEMPTS, backoffMs: config.DELIVERY_BACKOFF_MS });
  for (const q of [queues.delivery, queues.timers]) q.on('error', (err) => log.warn({ err, queue: q.name }, 'queue error'));
  metrics.watchQueues([queues.delivery, queues.timers]);
  const events = createRedisRequestEvents({ publisher: producer, subscriber, prefix: config.REDIS_PREFIX });
  const limits = createRedisLimits({ redis: producer, prefix: config.REDIS_PREFIX });
  metrics.watchLongPolls(() => events.watching());
  metrics.watchBacklog({ pending: () => store.requests.countPending(), sealLagSeconds: () => store.log.sealLagSeconds() });

  const directory = createDirectoryService({ people: store.people, audit, policy, log: log.child({ component: 'directory' }), clock });
  const callbackHosts = createCallbackHostPolicy({ allowedHosts: (config.CALLBACK_ALLOWED_HOSTS ?? '').split(',') });
  // Evidence (src/evidence): the signing key, the transparency log over the audit trail, its sealer and sinks.
  const evidence = createEvidence({ config, store: store.log, baseUrl, log: log.child({ component: 'evidence' }), clock });
  const apiKeys = createApiKeyService({ keys: store.apiKeys, audit, cacheMs: config.API_KEY_CACHE_MS, clock });
  const queries = createRequestQueryService({ requests: store.requests, grants: evidence.grants, events, baseUrl, clock });
  const decisionService = createDecisionService({
    requests: store.requests, directory, jobs: queues.jobs, events, pending: limits.pending, clock, log,
    onVote: (channel, result) => metrics.votes.inc({ channel, result }),
    onDecision: (status, waitedSeconds) => {
      metrics.decisions.inc({ status });
      metrics.decisionTime.observe({ status }, waitedSeconds);
    },
  });
  // Votes, from every channel, are spans of the request's trace.
  const decisions: DecisionService = {
    ...decisionService,
    vote: (id, input, voteLog) => inRequestSpan('countersign.vote', id, SpanKind.SERVER, { 'countersign.channel': input.channel }, () => decisionService.vote(id, input, voteLog)),
  };
  const intakeService = createIntakeService({
    requests: store.requests, budgets: store.budgets, standing: store.standingApprovals, policy, directory: () => directory.current(), callbackHosts, jobs: queues.jobs, events, pending: limits.pending, clock,
    config: { defaultTtlSeconds: config.DEFAULT_TTL_SECONDS, maxTtlSeconds: config.MAX_TTL_SECONDS, baseUrl, maxPendingPerKey: config.MAX_PENDING_PER_KEY },
    onSubmitted: (outcome) => {
      metrics.intake.inc({ outcome });
      if (outcome !== 'require') metrics.decisions.inc({ status: outcome === 'approve' ? 'approved' : 'denied' });
    },
  });
  // Intake continues the agent's trace (its traceparent header) and stores its own span's context with the request.
  // Only a context this service produced is stored: the agent's header becomes the intake span's parent, never the row's.
  const intake: IntakeService = {
    ...intakeService,
    submit: (principal, input, o) =>
      !tracing.enabled ? intakeService.submit(principal, input, { ...o, traceParent: undefined }) : tracing.inSpan('countersign.intake', { traceParent: o.traceParent, kind: SpanKind.SERVER, attributes: { 'countersign.action': input.action, 'countersign.api_key': principal.name } }, async (traceParent, span) => {
        const result = await intakeService.submit(principal, input, { ...o, traceParent });
        span.setAttributes({ 'countersign.request_id': result.answer.id, 'countersign.status': result.answer.status });
        return result;
      }),
  };
  const chatPlatforms: readonly AnyChatPlatform[] = opts.platforms ?? platforms;
  const modules: ChannelModule[] = [];
  const channels = new Map<ChannelKind, ChatChannel>();
  const chatPorts: Omit<ChatPorts, 'commands'> = {
    decisions, queries,
    // Every identity of every member (Teams needs members' AAD ids for its card refresh list).
    groupMembers: (group) => {
      const dir = directory.current();
      return dir.members(policy().groups[group] ?? []).flatMap((id) => dir.person(id)?.identities.map((l) => identityKey(l.identity)) ?? []);
    },
    teamsConversations: store.teamsConversations,
    audit,
  };
  // Interactions vote inside a database transaction: leave half the pool to the API and the workers.
  const interactionConcurrency = Math.max(2, Math.floor(config.DATABASE_POOL_SIZE / 2));
  const standing = createStandingApprovalService({ standing: store.standingApprovals, decisions, clock });
  for (const platform of chatPlatforms) {
    const slice = configSlice(config, platform.config.shape);
    if (!platform.config.enabled(slice)) continue;
    const { key, isPlatformGroup } = platform.config.auditAccess;
    const access = parseAuditAccess(slice[key] as string | undefined, isPlatformGroup);
    const commands = createChatCommandService({ audit, queries, standing, policy, directory, channel: platform.kind, auditGroups: access.policyGroups ?? [], clock });
    const offered: ChatPorts = { ...chatPorts, commands };
    const ports = Object.fromEntries(platform.ports.map((port: keyof ChatPorts) => [port, offered[port]]));
    const mod = await platform.create({ config: slice, log: log.child({ channel: platform.kind }), ports, auditGroups: access.platformGroups, interactionConcurrency });
    modules.push(mod);
    channels.set(platform.kind, mod.channel);
  }

  const deliveryService = createDeliveryService({
    deliveries: store.deliveries, requests: store.requests, queries, audit, channels, log, clock,
    postedMessages: createRedisPostedMessages({ redis: producer, prefix: config.REDIS_PREFIX }),
    callback: createCallbackChannel({
      secret: config.CALLBACK_SIGNING_SECRET, signer: evidence.grants, timeoutMs: config.CALLBACK_TIMEOUT_MS, hosts: callbackHosts, clock,
      traceHeaders: () => tracing.activeTraceHeaders(),
    }),
    callbackHostsOf: async (name) => (await store.apiKeys.findByName(name))?.callbackHosts ?? [],
  });
  const expiryWarnings = createExpiryWarningService({ requests: store.requests, events, clock });
  const reminders = createReminderService({ requests: store.requests, jobs: queues.jobs, clock });
  // Every delivery attempt is a span of the request's trace.
  const deliveries: DeliveryService = {
    ...deliveryService,
    postCard: (id, target) => inRequestSpan('countersign.delivery.card', id, SpanKind.CLIENT, { 'countersign.target': target }, () => deliveryService.postCard(id, target)),
    updateCard: (id, target) => inRequestSpan('countersign.delivery.card_update', id, SpanKind.CLIENT, { 'countersign.target': target }, () => deliveryService.updateCard(id, target)),
    notifyRequester: (id) => inRequestSpan('countersign.delivery.notify', id, SpanKind.CLIENT, {}, () => deliveryService.notifyRequester(id)),
    sendCallback: (id) => inRequestSpan('countersign.callback', id, SpanKind.CLIENT, {}, () => deliveryService.sendCallback(id)),
    remindApprovers: (id, target, index) => inRequestSpan('countersign.delivery.reminder', id, SpanKind.CLIENT, { 'countersign.target': target }, () => deliveryService.remindApprovers(id, target, index)),
  };
  const reconcile = createReconciler({
    requests: store.requests, pending: limits.pending, redrive: queues.redrive, jobs: queues.jobs, deliveries, decisions, reminders, budgets: store.budgets, clock, channelCount: channels.size, log,
    onRedrive: (kind) => metrics.redrives.inc({ kind }),
  });

  // The migrations this build ships: the node is not ready until the database has every one of them.
  const shipped = Promise.resolve().then(() => shippedMigrations(opts.migrationsDir ?? findMigrationsDir(__dirname)));
  shipped.catch(() => undefined);

  const shutdown = new AbortController();
  const serveApi = config.RUN_MODE !== 'worker';
  const runWorkers = config.RUN_MODE !== 'api';
  const consoleSessions = createConsoleSessionService({
    store: store.console, directory, audit, policy, baseUrl, clock,
    config: {
      sessionTtlSeconds: config.CONSOLE_SESSION_TTL, linkTtlSeconds: config.CONSOLE_LINK_TTL_SECONDS,
      auditorGroups: (config.CONSOLE_AUDITOR_GROUPS ?? '').split(',').map((g) => g.trim()).filter(Boolean),
    },
  });
  const consoleOidc = config.OIDC_ISSUER && config.OIDC_CLIENT_ID
    ? createConsoleOidcService({
      settings: {
        issuer: config.OIDC_ISSUER, clientId: config.OIDC_CLIENT_ID, clientSecret: config.OIDC_CLIENT_SECRET,
        redirectUri: `${baseUrl}/console/callback`, stepUpMaxAgeSeconds: config.CONSOLE_STEP_UP_MAX_AGE_SECONDS,
      },
      redis: producer, prefix: config.REDIS_PREFIX, clock,
    })
    : undefined;
  const lineage = createLineageService({ requests: store.requests, clock });
  const packs = createEvidencePackExporter({ audit, log: evidence.auditLog, requests: store.requests, policies: store.policies, grants: evidence.grants, issuer: baseUrl, clock });
  const server = await buildServer({
    log, bodyLimit: config.BODY_LIMIT_BYTES, apiKeys, lineage, audit, auditLog: evidence.auditLog, packs, directory, intake, decisions, queries, policies, policyFile: config.POLICY_FILE,
    grants: createGrantService({ grants: evidence.grants, requests: store.requests, clock }),
    standing, jwks: () => evidence.grants.jwks(),
    limits: { redis: producer, prefix: config.REDIS_PREFIX, intakePerMinute: config.INTAKE_RATE_LIMIT_PER_MINUTE, authFailuresPerMinute: config.AUTH_FAILURES_PER_MINUTE },
    longPolls: { gate: limits.longPolls, perKey: config.LONG_POLLS_PER_KEY },
    maxWaitSeconds: config.MAX_WAIT_SECONDS, shutdown: shutdown.signal, opsOnly: !serveApi,
    console: config.CONSOLE_ENABLED
      ? {
        routes: { sessions: consoleSessions, oidc: consoleOidc, baseUrl, cookies: { secure: config.CONSOLE_COOKIE_SECURE }, sessionTtlSeconds: config.CONSOLE_SESSION_TTL },
        modules: [
          consoleRequestRoutes({
            requests: createConsoleRequestService({
              queries, decisions, audit, auditLog: evidence.auditLog, directory, policy, stepUpMaxAgeSeconds: config.CONSOLE_STEP_UP_MAX_AGE_SECONDS, clock,
            }),
            sessions: consoleSessions, events, shutdown: shutdown.signal,
          }),
          consoleLineageRoutes({ lineage, policy, directory: () => directory.current() }),
          consoleAuditRoutes({ audit, log: evidence.auditLog, packs }),
          consoleStandingRoutes({ standing, directory }),
        ],
      }
      : undefined,
    observeIntake: (status, seconds) => metrics.intakeDuration.observe({ status: String(status) }, seconds),
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
    ready: async () => {
      const [postgres, redis] = await Promise.all([
        store.ping().then(() => 'ok', (e: unknown) => `unavailable: ${describeDatabaseError(e)}`),
        producer.ping().then(() => 'ok', (e: Error) => `unavailable: ${e.message || e.name || 'no answer'}`),
      ]);
      const migrations =
        postgres !== 'ok'
          ? 'unknown: PostgreSQL is unavailable'
          : await shipped.then(
              async (names) => {
                const state = await store.migrationState(names);
                return state.ok ? 'ok' : `${state.code}: ${state.reason}`;
              },
              (e: Error) => `unknown: cannot list the migrations this build ships (${e.message})`,
            ).catch((e: unknown) => `unknown: ${describeDatabaseError(e)}`);
      const chat = Object.fromEntries(
        modules.map((m) => {
          const h = m.health();
          return [m.channel.kind, h.ok ? 'ok' : `unavailable: ${h.reason}`];
        }),
      );
      return { postgres, redis, migrations, ...chat };
    },
  });
  if (serveApi) for (const m of modules) await m.registerRoutes?.(server);

  let workers: Workers | undefined;
  let directoryTimer: NodeJS.Timeout | undefined;
  let consoleTimer: NodeJS.Timeout | undefined;
  let stopWatching: (() => void) | undefined;

  /** Reloads run one at a time: a SIGHUP during a watcher's reload waits for it, then reads the file again. */
  let reloading: Promise<unknown> = Promise.resolve();
  async function reloadOnce(source: string): Promise<PolicyReloadResult> {
    const result = await policies.reload(readPolicyText(config.POLICY_FILE), source);
    if (result.status === 'activated') {
      log.info({ policy: { file: config.POLICY_FILE, hash: result.hash, previousHash: result.previousHash, rules: policy().rules.length }, source }, 'policy reloaded and in force');
      // The policy's people and groups feed the directory. Checked above; should the directory still refuse them
      // (an identity a CLI-added person already holds), it keeps its previous state and says so.
      await directory.load(policy()).catch((err) => log.error({ err, source }, 'policy in force, but the people directory refused its people; fix the file'));
    } else if (result.status === 'refused' && !result.repeated) {
      log.warn({ policy: { file: config.POLICY_FILE, keptHash: policy().hash }, problems: result.problems, source }, 'policy reload refused; keeping the policy in force');
    }
    return result;
  }
  function reloadPolicy(source: string): Promise<PolicyReloadResult> {
    const next = reloading.then(() => reloadOnce(source));
    reloading = next.catch(() => undefined);
    return next;
  }

  return {
    config, db: store.db, store, server, queues, tracing, services: { intake, decisions, queries, audit, apiKeys, deliveries, directory, policies, consoleSessions }, reconcile, channels, policy, evidence,

    /** Re-reads the policy file (SIGHUP, or the watcher): validated first, a bad file keeps the policy in force. */
    reloadPolicy,

    /** Connects, bootstraps keys, reconciles, starts workers and listens. Resolves with the bound address. */
    async start(): Promise<string> {
      await waitForRedis(producer, 10_000);
      await store.connect();
      const role = await store.connectedRole();
      if (role.canRewriteAudit) log.warn({ role: role.role }, 'connected to PostgreSQL as a role that can rewrite the audit trail (owner or superuser): give DATABASE_URL the runtime role (README, Migrations)');
      await policies.activate(policy(), 'start');
      await directory.load(policy());
      directoryTimer = setInterval(() => {
        directory.refresh().catch((err) => log.warn({ err }, 'could not refresh the people directory; keeping the current one'));
      }, config.DIRECTORY_REFRESH_MS);
      directoryTimer.unref();
      // Expired console sessions and sign-in links are of no use to anyone; their history is in the audit trail.
      if (config.CONSOLE_ENABLED && serveApi) {
        consoleTimer = setInterval(() => {
          store.console.purgeExpired(new Date(clock().getTime() - 24 * 3600_000)).catch((err) => log.warn({ err }, 'could not purge expired console sessions'));
        }, 3600_000);
        consoleTimer.unref();
      }
      if (config.POLICY_WATCH_INTERVAL_MS > 0) {
        stopWatching = watchPolicyFile(config.POLICY_FILE, config.POLICY_WATCH_INTERVAL_MS, () => {
          reloadPolicy('reload').catch((err) => log.error({ err }, 'policy reload failed; keeping the policy in force'));
        });
      }
      const { revokedNames } = await apiKeys.bootstrap(bootstrapKeys);
      for (const name of revokedNames) log.warn({ apiKey: name }, 'API key from API_KEYS was revoked with the CLI and stays revoked; remove it from API_KEYS');
      if (runWorkers) {
        workerConnection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null }).on('error', redisErr('worker'));
        workers = startWorkers({
          connection: workerConnection, prefix: config.REDIS_PREFIX, concurrency: config.WORKER_CONCURRENCY, backoffMs: config.DELIVERY_BACKOFF_MS,
          lockMs: config.WORKER_LOCK_MS, stalledCheckMs: config.WORKER_STALLED_CHECK_MS,
          queues, deliveries, decisions, expiryWarnings, reminders, reconcile, log: log.child({ component: 'worker' }),
          onDelivery: (kind, channel, outcome) => (kind === 'callback' ? metrics.callbacks.inc({ outcome }) : metrics.deliveries.inc({ kind, channel, outcome })),
        });
        await queues.timers.upsertJobScheduler('reconcile', { every: config.RECONCILE_INTERVAL_MS }, { name: 'reconcile' });
        await reconcile().catch((err) => log.error({ err }, 'start-up reconciliation failed'));
        evidence.sealer.start();
      }
      if (serveApi) for (const m of modules) await m.start?.();
      const address = await server.listen({ port: config.PORT, host: config.HOST });
      log.info(
        {
          address, runMode: config.RUN_MODE, policy: { file: config.POLICY_FILE, hash: policy().hash, rules: policy().rules.length },
          channels: ['api', ...modules.map((m) => m.channel.kind)],
          apiKeysFromEnv: bootstrapKeys.length,
          auditLog: { origin: evidence.auditLog.origin, verifierKey: evidence.key.verifierKey(evidence.auditLog.origin), checkpointDir: evidence.checkpointDir },
        },
        modules.length
          ? `Countersign listening; channels: api, ${modules.map((m) => m.channel.kind).join(', ')}`
          : `Countersign listening; channels: API only (${chatPlatforms.map((p) => p.kind).join(', ')} not configured)`,
      );
      return address;
    },

    /** Graceful shutdown: stop intake, release long-polls, let jobs in progress finish, close connections. */
    async stop(): Promise<void> {
      shutdown.abort();
      clearInterval(directoryTimer);
      clearInterval(consoleTimer);
      stopWatching?.();
      await reloading;
      await events.close();
      await server.close();
      for (const m of modules) await m.stop?.().catch((err) => log.warn({ err }, 'channel stop failed'));
      await workers?.close();
      await evidence.sealer.stop();
      await queues.close();
      // Shutdown goes on whatever one part says: a connection that fails to close is already gone. Say so, then move on.
      const closing = (what: string) => (err: unknown) => log.warn({ err, what }, 'could not close cleanly during shutdown');
      for (const c of channels.values()) await c.close?.().catch(closing(`${c.kind} channel`));
      await Promise.all([producer.quit().catch(closing('redis producer')), subscriber.quit().catch(closing('redis subscriber')), workerConnection?.quit().catch(closing('redis worker'))]);
      await tracing.shutdown().catch(closing('tracing'));
      await store.close();
    },
  };
}

export type App = Awaited<ReturnType<typeof createApp>>;

async function waitForRedis(conn: Redis, timeoutMs: number): Promise<void> {
  if (conn.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis is not reachable after ${timeoutMs} ms`)), timeoutMs);
    conn.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
