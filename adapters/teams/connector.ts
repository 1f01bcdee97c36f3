/**
 * Access to the Bot Connector client botbuilder creates for each turn, with botbuilder's own retries switched off.
 *
 * Why: the ConnectorClient's HTTP pipeline (@azure/core-rest-pipeline) retries 429 and 5xx itself, up to three times,
 * sleeping for the whole Retry-After. The core's delivery worker owns retries, backoff and Retry-After (and records
 * every failure in the audit trail), and a Teams invoke must be answered within seconds, so the adapter must see a
 * throttled call fail at once. botbuilder offers no option for this, so the retry policy is removed from the
 * client's pipeline; test/teams/teams-outbound.test.ts proves that a 429 reaches the fake connector exactly once.
 */
import type { Activity, ConversationParameters, ConversationResourceResponse, Middleware, ResourceResponse, TurnContext } from 'botbuilder';

/**
 * The part of botframework-connector's ConnectorClient the adapter uses (botbuilder does not re-export the class, and
 * the adapter should not depend on a transitive package).
 */
export interface ConnectorClient {
  conversations: {
    createConversation(parameters: ConversationParameters): Promise<ConversationResourceResponse>;
    sendToConversation(conversationId: string, activity: Partial<Activity>): Promise<ResourceResponse>;
    updateActivity(conversationId: string, activityId: string, activity: Partial<Activity>): Promise<ResourceResponse>;
  };
}

/** How long one connector call may take before it counts as a network failure (and the worker retries it). */
export const CONNECTOR_TIMEOUT_MS = 15_000;

interface PipelineLike {
  removePolicy(options: { name?: string; phase?: string }): unknown;
  addPolicy(policy: { name: string; sendRequest(request: { abortSignal?: AbortSignal }, next: (r: unknown) => Promise<unknown>): Promise<unknown> }, options?: unknown): void;
  getOrderedPolicies(): { name: string }[];
}

const TIMEOUT_POLICY = 'countersignTimeoutPolicy';

/** The turn's connector client (set by CloudAdapter for inbound, proactive and create-conversation turns). */
export function connectorOf(context: TurnContext): ConnectorClient {
  const client = context.turnState.get<ConnectorClient>(context.adapter.ConnectorClientKey);
  if (!client) throw new Error('botbuilder did not provide a connector client for this turn');
  return client;
}

/** Removes the SDK's retry policy from a connector client and bounds each call's duration. Idempotent. */
export function withoutSdkRetries(client: ConnectorClient): ConnectorClient {
  const pipeline = (client as unknown as { client?: { pipeline?: PipelineLike } }).client?.pipeline;
  if (!pipeline) return client;
  pipeline.removePolicy({ phase: 'Retry' });
  if (!pipeline.getOrderedPolicies().some((p) => p.name === TIMEOUT_POLICY)) {
    pipeline.addPolicy({
      name: TIMEOUT_POLICY,
      sendRequest(request, next) {
        // An abort signal rather than the pipeline's `timeout` option: the latter leaves a live timer behind after a
        // refused connection, holding the process open for the whole timeout at shutdown.
        const timeout = AbortSignal.timeout(CONNECTOR_TIMEOUT_MS);
        request.abortSignal = request.abortSignal ? AbortSignal.any([request.abortSignal, timeout]) : timeout;
        return next(request);
      },
    });
  }
  return client;
}

/** Middleware applying {@link withoutSdkRetries} to every turn's connector client before any handler uses it. */
export function noSdkRetriesMiddleware(): Middleware {
  return {
    async onTurn(context, next) {
      const client = context.turnState.get<ConnectorClient>(context.adapter.ConnectorClientKey);
      if (client) withoutSdkRetries(client);
      await next();
    },
  };
}
