/**
 * `POST /api/messages` on the service's own Fastify server, so Teams traffic shares the port, TLS, health checks and
 * metrics of the API. botbuilder's CloudAdapter authenticates every activity (Bot Framework JWT) before the bot runs.
 *
 * botbuilder's `adapter.process(req, res, logic)` was written for Express/Restify: it wants a response with
 * `status/header/send/end`, which a Fastify reply lacks (there is no `end`). This collects what botbuilder writes and
 * hands it to Fastify once, after botbuilder has finished the turn.
 */
import type { ActivityHandler, CloudAdapter } from 'botbuilder';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pino from 'pino';

/** Where the Azure Bot's messaging endpoint points. */
export const TEAMS_MESSAGES_PATH = '/api/messages';

export interface TeamsReceiver {
  /** Mounts `POST /api/messages` on the shared server. */
  register(app: FastifyInstance): void;
}

export interface CollectedResponse {
  /** Part of botbuilder's Response type; only used for websocket upgrades, which this route does not do. */
  socket: unknown;
  status(code: number): CollectedResponse;
  header(name: string, value: unknown): CollectedResponse;
  send(body?: unknown): CollectedResponse;
  end(): CollectedResponse;
}

export interface ResponseCollector {
  response: CollectedResponse;
  /** The status botbuilder set (200 until it sets one). */
  readonly status: number;
  /** The body botbuilder sent, as text (for logs). */
  bodyText(): string;
  /** Writes what botbuilder produced to the Fastify reply. */
  flush(reply: FastifyReply): FastifyReply;
}

export function collectResponse(): ResponseCollector {
  let statusCode = 200;
  let body: unknown;
  const headers: Record<string, string> = {};
  const response: CollectedResponse = {
    socket: undefined,
    status(code) {
      statusCode = code;
      return response;
    },
    header(name, value) {
      headers[name.toLowerCase()] = String(value);
      return response;
    },
    send(b) {
      body = b;
      return response;
    },
    end() {
      return response;
    },
  };
  return {
    response,
    get status() {
      return statusCode;
    },
    bodyText() {
      return typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
    },
    flush(reply) {
      reply.code(statusCode).headers(headers);
      if (body === undefined || body === null) return reply.send();
      if (typeof body === 'string' && !headers['content-type']) reply.type('text/plain; charset=utf-8');
      return reply.send(body);
    },
  };
}

/** The request fields botbuilder reads: parsed JSON body, headers (Authorization) and method. */
export function botRequest(request: FastifyRequest): { body?: Record<string, unknown>; headers: Record<string, string | string[] | undefined>; method: string } {
  return {
    body: request.body && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : undefined,
    headers: request.headers,
    method: request.method,
  };
}

/** The receiver: botbuilder authenticates and runs `bot` for each activity; the answer goes back through Fastify. */
export function createTeamsReceiver(deps: { adapter: Pick<CloudAdapter, 'process'>; bot: Pick<ActivityHandler, 'run'>; log: pino.Logger }): TeamsReceiver {
  const { adapter, bot, log } = deps;
  return {
    register(app) {
      app.post(TEAMS_MESSAGES_PATH, async (request, reply) => {
        const collected = collectResponse();
        let turnStarted = false;
        // botbuilder authenticates the request (JWT) before running the bot, and answers 401 itself for most failures.
        await adapter.process(botRequest(request), collected.response, (context) => {
          turnStarted = true;
          return bot.run(context);
        });
        if (!turnStarted && collected.status >= 500) {
          // A token whose signature does not verify (or keys that could not be fetched) surfaces from botbuilder as a
          // 500 carrying the verifier's message. The request was not authenticated either way: say so, and keep the
          // reason in our log rather than in the answer.
          log.warn({ status: collected.status, reason: collected.bodyText() }, 'refused a Teams request that could not be authenticated');
          return reply.code(401).type('text/plain; charset=utf-8').send('Unauthorized');
        }
        return collected.flush(reply);
      });
    },
  };
}
