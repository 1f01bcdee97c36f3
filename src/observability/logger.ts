/** The product logger (pino): JSON lines with the request id, and credentials redacted wherever they appear. */
import pino from 'pino';

/** Paths never written to logs: credentials in headers (ours and the chat SDKs' HTTP errors) and secret-like fields. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  '*.config.headers.Authorization',
  '*.secret',
  '*.token',
  '*.password',
  '*.apiKey',
  'secret',
  'token',
];

/** Query parameters that carry credentials: an OAuth callback's code and state, tokens. */
const SECRET_QUERY = /([?&](?:code|state|token|id_token|access_token|session_state)=)[^&#]*/gi;
/** Path segments that are credentials: the web console's one-time sign-in links (/console/link/<token>). */
const SECRET_PATH = /(\/console\/link\/)[^/?#]+/;

/** A request URL fit for the logs: credentials in its path or query replaced by `[redacted]`. */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_PATH, '$1[redacted]').replace(SECRET_QUERY, '$1[redacted]');
}

/**
 * How Fastify logs a request (its own serializer's fields), with the URL redacted: Fastify gives the logger's own
 * serializers precedence over its defaults.
 */
function requestSerializer(req: { method?: string; url?: string; host?: string; ip?: string; headers?: Record<string, unknown>; socket?: { remotePort?: number } }) {
  return {
    method: req.method,
    url: redactUrl(req.url),
    version: req.headers?.['accept-version'],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  return pino(
    {
      level, base: { service: 'countersign' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { req: requestSerializer },
    },
    destination,
  );
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * A child logger made on first use. Fastify makes one per request for the request id (and the intake route another
 * for the approval id), yet at the usual levels most requests log nothing, and a pino child serialises its bindings
 * (and redaction) up front. Calls below the parent's level return at once without making it.
 */
export function lazyChildLogger(parent: pino.Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions): pino.Logger {
  return new LazyLogger(parent, () => parent.child(bindings, options)) as unknown as pino.Logger;
}

class LazyLogger {
  private made: pino.Logger | undefined;

  constructor(
    private readonly levels: pino.Logger,
    private readonly make: () => pino.Logger,
  ) {}

  private real(): pino.Logger {
    return (this.made ??= this.make());
  }

  private write(level: Level, args: unknown[]): void {
    if (this.levels.isLevelEnabled(level)) (this.real()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return this.made?.level ?? this.levels.level;
  }

  set level(value: string) {
    this.real().level = value;
  }

  isLevelEnabled(level: string): boolean {
    return this.levels.isLevelEnabled(level);
  }

  child(bindings: pino.Bindings, options?: pino.ChildLoggerOptions): LazyLogger {
    return new LazyLogger(this.levels, () => this.real().child(bindings, options));
  }

  bindings(): pino.Bindings {
    return this.real().bindings();
  }

  silent(): void {}
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
}
