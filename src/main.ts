/** Process entry: load .env, parse config, build the app, and handle signals. */
import { createApp } from './app';
import { ConfigError, loadConfig, loadDotEnv } from './config/config';
import { PolicyFileError } from './config/load-policy';
import { createLogger } from './observability/logger';

async function main(): Promise<void> {
  loadDotEnv();
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  let app;
  try {
    app = await createApp(config, { log });
  } catch (err) {
    if (err instanceof PolicyFileError || err instanceof ConfigError) {
      console.error((err as Error).message);
      process.exit(78);
    }
    throw err;
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS).unref();
    try {
      await app.stop();
      clearTimeout(timer);
      log.info('stopped');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // SIGHUP re-reads the policy file (validated first; a bad file keeps the policy in force and says why).
  process.on('SIGHUP', () => {
    if (!stopping) app.reloadPolicy('sighup').catch((err) => log.error({ err }, 'policy reload failed; keeping the policy in force'));
  });
  try {
    await app.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      await app.stop().catch(() => undefined);
      process.exit(78);
    }
    log.fatal({ err }, 'start-up failed');
    await app.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
