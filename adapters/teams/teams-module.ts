/**
 * The Microsoft Teams adapter: `POST /api/messages` on the shared server through botbuilder's CloudAdapter (which
 * validates the Bot Framework JWT on every inbound activity), Adaptive Card approvals, and the {@link ChatChannel}
 * the delivery worker uses to post and update cards and notify requesters. Built from its own configuration slice and
 * the core ports it declared in teams-platform.ts.
 */
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type ConfigurationBotFrameworkAuthenticationOptions } from 'botbuilder';
import { createChannelHealthTracker } from '../../src/channels/channel-health';
import type { ChannelModule, ChannelModuleDeps } from '../../src/channels/channel-module';
import { ConfigError } from '../../src/config/config-error';
import type { ApprovalView } from '../../src/domain/approval-view';
import { noSdkRetriesMiddleware } from './connector';
import { createConversationStore } from './conversation-store';
import { TENANT_REQUIRED, type TeamsConfig } from './teams-config';
import { createTeamsDirectory } from './teams-directory';
import { createTeamsInbound } from './teams-inbound';
import { createTeamsOutbound } from './teams-outbound';
import type { TeamsPort } from './teams-platform';
import { createTeamsReceiver } from './teams-receiver';
import { refreshUserIdsFor, renderApprovalCard } from './teams-render';

export type TeamsModuleDeps = ChannelModuleDeps<TeamsConfig, TeamsPort>;

export interface TeamsModuleOptions {
  /**
   * Extra settings for botbuilder's ConfigurationBotFrameworkAuthentication, for clouds other than the public one
   * (e.g. `ChannelService`, `ToBotFromChannelOpenIdMetadataUrl`). Credentials always come from the configuration.
   */
  botFrameworkAuth?: Omit<ConfigurationBotFrameworkAuthenticationOptions, 'MicrosoftAppId' | 'MicrosoftAppPassword' | 'MicrosoftAppTenantId' | 'MicrosoftAppType'>;
}

/**
 * Fails closed: with no app id botbuilder authenticates nothing (any caller could vote as anyone), and with no tenant
 * any tenant's users could vote, so the adapter only runs without either when TEAMS_ALLOW_UNAUTHENTICATED=true says
 * this is a local or test setup.
 */
export function assertTeamsAuthConfigured(config: Pick<TeamsConfig, 'MICROSOFT_APP_ID' | 'MICROSOFT_APP_TENANT_ID' | 'TEAMS_ALLOW_UNAUTHENTICATED'>): void {
  if (config.TEAMS_ALLOW_UNAUTHENTICATED) return;
  const problems: string[] = [];
  if (!config.MICROSOFT_APP_ID) {
    problems.push(
      'MICROSOFT_APP_ID: required for the Teams adapter (with MICROSOFT_APP_PASSWORD); without it Bot Framework authentication is off. ' +
        'Set TEAMS_ALLOW_UNAUTHENTICATED=true only for local development and tests.',
    );
  }
  if (!config.MICROSOFT_APP_TENANT_ID) problems.push(TENANT_REQUIRED);
  if (problems.length) throw new ConfigError(problems);
}

/**
 * Builds the Teams adapter. Throws a {@link ConfigError} when Teams would run without authentication and that was not
 * explicitly allowed.
 */
export function createTeamsModule(deps: TeamsModuleDeps, options: TeamsModuleOptions = {}): ChannelModule {
  const { config, ports } = deps;
  assertTeamsAuthConfigured(config);
  const log = deps.log.child({ component: 'teams' });
  const appId = config.MICROSOFT_APP_ID ?? '';
  if (!appId) {
    log.warn('TEAMS_ALLOW_UNAUTHENTICATED=true: Teams traffic is NOT authenticated; anyone who can reach /api/messages can act as any Teams user. Use only for local development and tests.');
  }

  const auth = new ConfigurationBotFrameworkAuthentication({
    ...options.botFrameworkAuth,
    MicrosoftAppId: appId,
    MicrosoftAppPassword: config.MICROSOFT_APP_PASSWORD ?? '',
    MicrosoftAppTenantId: config.MICROSOFT_APP_TENANT_ID ?? '',
    // Without an app id (TEAMS_ALLOW_UNAUTHENTICATED) botbuilder authenticates nothing, and only its multi-tenant
    // credential factory accepts an empty app id.
    MicrosoftAppType: appId ? config.MICROSOFT_APP_TYPE : 'MultiTenant',
  });
  const adapter = new CloudAdapter(auth);
  adapter.use(noSdkRetriesMiddleware());

  const store = createConversationStore({ store: ports.teamsConversations });
  const members = createTeamsDirectory({ cacheSize: config.TEAMS_MEMBER_CACHE_SIZE, cacheMs: config.TEAMS_MEMBER_CACHE_MS });

  const refreshUserIds = (view: ApprovalView) => refreshUserIdsFor(view.approverGroups.flatMap((g) => ports.groupMembers(g)));

  const bot = createTeamsInbound({
    decisions: ports.decisions,
    queries: ports.queries,
    commands: ports.commands,
    store,
    members,
    renderCard: (view, notice) => renderApprovalCard(view, { notice, refreshUserIds: refreshUserIds(view) }),
    tenantId: config.MICROSOFT_APP_TENANT_ID,
    audit: ports.audit,
    log,
  });

  // No long-lived connection: the channel is healthy until the platform rejects its credentials (no Bot Framework
  // token, or a 401 from the connector), and again once a call succeeds.
  const health = createChannelHealthTracker();
  const channel = createTeamsOutbound({
    adapter,
    appId,
    store,
    renderCard: (view) => renderApprovalCard(view, { refreshUserIds: refreshUserIds(view) }),
    renderNotification: (view) => renderApprovalCard(view, { notification: true }),
    tenantId: config.MICROSOFT_APP_TENANT_ID,
    log,
  });

  const receiver = createTeamsReceiver({ adapter, bot, log });

  return {
    channel: health.watch(channel),
    registerRoutes: (app) => receiver.register(app),
    health: () => health.health(),
  };
}
