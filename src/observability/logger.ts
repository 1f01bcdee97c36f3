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

export function createLogger(level: string, destination?: pino.DestinationStream): pino.Logger {
  return pino(
    { level, base: { service: 'countersign' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination,
  );
}
