/**
 * How a chat adapter plugs into the service. The composition root (src/app.ts) builds one module per configured
 * platform with these dependencies, registers its inbound routes on the shared Fastify server, and hands its
 * {@link ChatChannel} to the delivery worker.
 */
import type { FastifyInstance } from 'fastify';
import type pino from 'pino';
import type { Config } from '../config/config';
import type { Policy } from '../domain/policy';
import type { ChatChannel } from '../ports/chat-channel';
import type { AuditService } from '../services/audit-service';
import type { ChatCommandService } from '../services/chat-command-service';
import type { DecisionService } from '../services/decision-service';
import type { RequestQueryService } from '../services/request-query-service';
import type { TeamsConversationStore } from '../store/teams-conversation-store';

export interface ChannelModuleDeps {
  config: Config;
  log: pino.Logger;
  teamsConversations: TeamsConversationStore;
  policy: () => Policy;
  decisions: DecisionService;
  queries: RequestQueryService;
  audit: AuditService;
  commands: ChatCommandService;
}

export interface ChannelModule {
  /** Outbound: used by the delivery worker (cards, updates, notifications). */
  channel: ChatChannel;
  /** Inbound HTTP endpoints, mounted on the shared server in RUN_MODE=all|api. */
  registerRoutes?(app: FastifyInstance): Promise<void> | void;
  /** Long-lived inbound connections (Slack Socket Mode), started in RUN_MODE=all|api. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
}
