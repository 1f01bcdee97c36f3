/**
 * Bolt and the WebClient log through `@slack/logger`'s interface; this routes them into the service's pino logger so
 * Slack SDK messages get the same format, level and redaction as everything else.
 */
import { LogLevel, type Logger } from '@slack/bolt';
import type pino from 'pino';

const PINO_TO_SLACK: Record<string, LogLevel> = {
  trace: LogLevel.DEBUG,
  debug: LogLevel.DEBUG,
  info: LogLevel.INFO,
  warn: LogLevel.WARN,
  error: LogLevel.ERROR,
  fatal: LogLevel.ERROR,
  silent: LogLevel.ERROR,
};

function write(log: pino.Logger, level: 'debug' | 'info' | 'warn' | 'error', args: unknown[]): void {
  const err = args.find((a): a is Error => a instanceof Error);
  const text = args.filter((a) => !(a instanceof Error)).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
  if (err) log[level]({ err }, text || err.message);
  else log[level](text);
}

/**
 * Wraps a pino logger for the Slack SDKs. The level stays pino's: the SDKs' `setLevel` calls are ignored so that
 * LOG_LEVEL alone decides what is written.
 */
export function createBoltLogger(log: pino.Logger): Logger {
  return {
    debug: (...args: unknown[]) => write(log, 'debug', args),
    info: (...args: unknown[]) => write(log, 'info', args),
    warn: (...args: unknown[]) => write(log, 'warn', args),
    error: (...args: unknown[]) => write(log, 'error', args),
    setLevel: () => undefined,
    getLevel: () => PINO_TO_SLACK[log.level] ?? LogLevel.INFO,
    setName: () => undefined,
  };
}
