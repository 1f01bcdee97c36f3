/**
 * A Bolt {@link Receiver} mounted on the service's own Fastify server, so Slack traffic shares the port, TLS,
 * health checks and metrics of the API instead of Bolt's separate HTTP server.
 *
 * It does only what a receiver must: check Slack's signature on the exact bytes received, answer `url_verification`,
 * hand the parsed body to `App.processEvent`, and send the HTTP answer the moment a listener calls `ack()`. Listener
 * work after the ack (votes, Slack API calls) continues in the background.
 */
import { HTTPModuleFunctions, ReceiverMultipleAckError, verifySlackRequest, type App, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pino from 'pino';

export interface SlackReceiverOptions {
  signingSecret: string;
  log: pino.Logger;
  /** Route path; Slack's request URLs (interactivity, slash command, events) all point here. */
  path?: string;
  /** Largest body accepted. Interaction payloads echo the whole message, so allow more than the API's JSON limit. */
  bodyLimit?: number;
  /** Clock in milliseconds, for the timestamp window. */
  now?: () => number;
}

export interface SlackReceiver extends Receiver {
  /** Mounts `POST <path>` on the shared server. */
  register(app: FastifyInstance): Promise<void>;
}

/** Slack's own replay window: a signed request older (or newer) than this is refused. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

type Answer = { status: number; body?: unknown };

function unauthorized(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(401).send({ error: { code: 'invalid_slack_signature', message } });
}

/** Creates the receiver; pass it to `new App({ receiver })`, then call `register(fastify)`. */
export function createSlackReceiver(opts: SlackReceiverOptions): SlackReceiver {
  const path = opts.path ?? '/slack/events';
  const now = opts.now ?? Date.now;
  let bolt: App | undefined;

  /** Signature and timestamp check; returns why it failed, or undefined when the request is Slack's. */
  function verify(req: FastifyRequest, raw: string): string | undefined {
    const signature = req.headers['x-slack-signature'];
    const timestamp = req.headers['x-slack-request-timestamp'];
    if (typeof signature !== 'string' || typeof timestamp !== 'string') return 'missing Slack signature headers';
    const ts = Number(timestamp);
    if (!Number.isInteger(ts)) return 'invalid x-slack-request-timestamp';
    // Bolt only rejects timestamps in the past; one far in the future is just as much a replay risk.
    if (Math.abs(Math.floor(now() / 1000) - ts) > MAX_CLOCK_SKEW_SECONDS) return 'stale or future x-slack-request-timestamp';
    try {
      verifySlackRequest({ signingSecret: opts.signingSecret, body: raw, headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': ts }, nowMilliseconds: now() });
      return undefined;
    } catch {
      return 'signature mismatch';
    }
  }

  function parse(req: FastifyRequest, raw: string): Record<string, unknown> {
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    // Bolt's own parser (JSON, or form fields with a JSON `payload`), fed the bytes we already verified.
    const buffered = { rawBody: Buffer.from(raw, 'utf8'), headers: { 'content-type': contentType } };
    return HTTPModuleFunctions.parseHTTPRequestBody(buffered as unknown as Parameters<typeof HTTPModuleFunctions.parseHTTPRequestBody>[0]);
  }

  async function handle(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const raw = typeof req.body === 'string' ? req.body : '';
    const problem = verify(req, raw);
    if (problem) {
      req.log.warn({ reason: problem }, 'refused a Slack request that failed verification');
      return unauthorized(reply, `Request refused: ${problem}.`);
    }

    let body: Record<string, unknown>;
    try {
      body = parse(req, raw);
    } catch {
      return reply.code(400).send({ error: { code: 'invalid_body', message: 'The Slack request body could not be parsed.' } });
    }
    if (body.type === 'url_verification') return reply.code(200).send({ challenge: body.challenge });
    if (!bolt) return reply.code(503).send({ error: { code: 'not_ready', message: 'The Slack adapter is not initialised.' } });

    let settle!: (a: Answer) => void;
    const answered = new Promise<Answer>((resolve) => (settle = resolve));
    let acked = false;
    const event: ReceiverEvent = {
      body,
      retryNum: Number(req.headers['x-slack-retry-num']) || undefined,
      retryReason: typeof req.headers['x-slack-retry-reason'] === 'string' ? req.headers['x-slack-retry-reason'] : undefined,
      ack: async (response?: unknown) => {
        if (acked) throw new ReceiverMultipleAckError();
        acked = true;
        settle({ status: 200, body: response });
      },
    };
    bolt.processEvent(event).then(
      () => {
        // No listener acknowledged it: tell Slack so (it shows the user an error) rather than hold the connection.
        if (!acked) settle({ status: 404, body: { error: { code: 'unhandled', message: 'No handler for this Slack request.' } } });
      },
      (err: unknown) => {
        opts.log.error({ err }, 'Slack event processing failed');
        if (!acked) settle({ status: 500, body: { error: { code: 'internal_error', message: 'The Slack request could not be processed.' } } });
      },
    );
    const answer = await answered;
    if (answer.body === undefined || answer.body === '') return reply.code(answer.status).send();
    if (typeof answer.body === 'string') return reply.code(answer.status).type('text/plain; charset=utf-8').send(answer.body);
    return reply.code(answer.status).send(answer.body);
  }

  return {
    init(app) {
      bolt = app;
    },
    // The shared Fastify server is started and stopped by the composition root.
    async start() {},
    async stop() {},
    async register(app) {
      await app.register(async (scope) => {
        // Keep the body as the exact string Slack signed: the server's JSON/form parsers would lose the bytes.
        scope.removeAllContentTypeParsers();
        scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: opts.bodyLimit ?? 1024 * 1024 }, (_req, body, done) => done(null, body));
        scope.post(path, handle);
      });
    },
  };
}
