/**
 * botbuilder's `adapter.process(req, res, logic)` was written for Express/Restify: it wants a response with
 * `status/header/send/end`, which a Fastify reply lacks (there is no `end`). This collects what botbuilder writes and
 * hands it to Fastify once, after botbuilder has finished the turn.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

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
