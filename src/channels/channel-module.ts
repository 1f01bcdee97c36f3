/**
 * How a chat adapter plugs into the service, and the chat kit's front door. The composition root (src/app.ts) builds
 * one module per enabled platform from its registration ({@link ChatPlatform}), hands it only its own configuration,
 * a logger and the core ports it declared, mounts its inbound routes on the shared Fastify server, and gives its
 * {@link ChatChannel} to the delivery worker.
 *
 * The rest of src/channels is the kit both adapters render with, so they say the same things: status words, card
 * facts, the pending list, text limits, audit-line wording, audit access, failure classification, chat replies and
 * channel health.
 */
import type { FastifyInstance } from 'fastify';
import type pino from 'pino';
import type { ConfigOf, ConfigShape, RawEnv } from '../config/config-shape';
import type { ChannelKind, ChatChannel } from '../ports/chat-channel';
import type { ChannelHealth } from './channel-health';
import type { AuditService } from '../services/audit-service';
import type { ChatCommandService } from '../services/chat-command-service';
import type { DecisionService } from '../services/decision-service';
import type { RequestQueryService } from '../services/request-query-service';
import type { TeamsConversationStore } from '../store/teams-conversation-store';

/** Everything of the core a chat platform may be given. Each platform declares which of these it uses. */
export interface ChatPorts {
  /** Records a vote; every rule (self-approval, eligibility, quorum, expiry, reasons) is decided there. */
  decisions: Pick<DecisionService, 'vote'>;
  /** A request as cards show it, and what a person can approve now. */
  queries: Pick<RequestQueryService, 'view' | 'pendingFor'>;
  /** Chat commands (`audit`, `pending`, `help`), already bound to this platform's audit-access policy groups. */
  commands: Pick<ChatCommandService, 'run'>;
  /**
   * Identity keys of a policy group's current members (`alice@example.com`, `slack:U…`, `teams:<object id>`),
   * [] for an unknown group.
   */
  groupMembers(group: string): string[];
  /** Teams conversation references: where the Teams bot was installed and may post. */
  teamsConversations: TeamsConversationStore;
  /** The audit trail, for what only a platform sees: interactions refused because they came from another workspace or tenant. */
  audit: Pick<AuditService, 'append'>;
}

export interface ChannelModuleDeps<Config, Port extends keyof ChatPorts = keyof ChatPorts> {
  /** The platform's own keys, parsed (never the whole service configuration). */
  config: Config;
  log: pino.Logger;
  /** The core ports the platform declared, and no others. */
  ports: Pick<ChatPorts, Port>;
  /** The platform's own groups named in its audit-access setting (Slack user groups); its policy groups are in `ports.commands`. */
  auditGroups: string[];
  /**
   * How many inbound interactions may do their work (a vote, a command: each a database transaction) at once, so a
   * burst of clicks leaves connections to the API and the workers.
   */
  interactionConcurrency: number;
}

export interface ChannelModule {
  /** Outbound: used by the delivery worker (cards, updates, notifications). */
  channel: ChatChannel;
  /** Inbound HTTP endpoints, mounted on the shared server in RUN_MODE=all|api. */
  registerRoutes?(app: FastifyInstance): Promise<void> | void;
  /** Long-lived inbound connections (Slack Socket Mode), started in RUN_MODE=all|api. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /**
   * Whether the channel can work now (readiness): not while its connection is down or the platform rejects its
   * credentials. Kept with the kit's tracker (channel-health.ts) so every adapter judges alike; never does I/O.
   */
  health(): ChannelHealth;
}

/** A platform's part of the one configuration schema: its keys, its rules, when it is on, and its audit-access key. */
export interface PlatformConfig<Shape extends ConfigShape> {
  /** Its environment keys, with defaults and documentation (each listed in .env.example). */
  shape: Shape;
  /**
   * Rules between its keys, checked on the raw environment so they are reported together with per-key problems
   * (zod skips refinements while a field fails). Each problem starts with the key to fix.
   */
  problems(env: RawEnv): string[];
  /** Whether the configuration switches the platform on. */
  enabled(config: ConfigOf<Shape>): boolean;
  /** The key listing who may run audit look-ups, and which of its entries name the platform's own groups. */
  auditAccess: { key: keyof Shape & string; isPlatformGroup?(entry: string): boolean };
}

/** A chat platform as the registry (src/platforms.ts) lists it. */
export interface ChatPlatform<Shape extends ConfigShape = ConfigShape, Port extends keyof ChatPorts = keyof ChatPorts> {
  kind: ChannelKind;
  config: PlatformConfig<Shape>;
  /** The core ports it uses; the composition root hands it these and no others. */
  ports: readonly Port[];
  /** Builds the module. Loads the platform SDK on demand, so parsing configuration never does. */
  create(deps: ChannelModuleDeps<ConfigOf<Shape>, Port>): Promise<ChannelModule>;
}

/**
 * Any registered platform, whatever its keys and ports. The registry is heterogeneous and `create` takes each
 * platform's own types, so the list is held loosely; every entry is checked against its own definition.
 */
export type AnyChatPlatform = ChatPlatform<any, any>;
