/**
 * How requests appear in the log: request ids (the caller's `x-request-id` when it is a sane token, else a new UUID,
 * echoed on every answer), and health probes (routes marked `config: { probe: true }`) logged at debug: a load
 * balancer probing every few seconds must not drown the lines operators read.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A health/readiness/metrics probe: its request lines are logged at debug. */
    probe?: boolean;
  }
}

/** What a caller's request id may be: it lands in every log line of the request, so no spaces, quotes or control characters. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The caller's `x-request-id` when it is a sane token (so a trace can be followed across systems), else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

const isProbe = (request: FastifyRequest) => request.routeOptions?.config?.probe === true;

/** Fastify's request lines, with probes' at debug (errors stay at their level). */
export class ProbeQuietLogController extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (!isProbe(request)) return super.incomingRequest(request, reply, metadata);
    if (!this.isLogDisabled(request)) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply, metadata?: Record<string, unknown>): void {
    if (error || !isProbe(request)) return super.requestCompleted(error, request, reply, metadata);
    if (!this.isLogDisabled(request)) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
