/**
 * Countersign's sealer on its own, for `npm run bench`: the transparency-log work a RUN_MODE=worker node does (seal
 * every AUDIT_SEAL_INTERVAL_MS, publish checkpoints to the file sink), without the delivery workers, whose jobs the
 * bench leaves queued as before. It runs during the Countersign cells so that its cost shares the machine with the
 * measured intake, and run-bench.ts reports how far behind the commits it falls.
 *
 * Env: DATABASE_URL (the runtime role), DATA_DIR (shared with the Countersign child: same signing key),
 * AUDIT_SEAL_INTERVAL_MS, CHECKPOINT_ORIGIN, LOG_LEVEL.
 */
import { createEvidence } from '../src/evidence/evidence';
import { createLogger } from '../src/observability/logger';
import { createStore } from '../src/store/store';

const env = process.env;
if (!env.DATABASE_URL || !env.DATA_DIR) {
  console.error('sealer-process: DATABASE_URL and DATA_DIR are required');
  process.exit(78);
}
const log = createLogger(env.LOG_LEVEL ?? 'warn');
const store = createStore({ url: env.DATABASE_URL, poolSize: 2, onError: (err) => log.warn({ err }, 'database connection error') });
const evidence = createEvidence({
  config: { DATA_DIR: env.DATA_DIR, AUDIT_SEAL_INTERVAL_MS: Number(env.AUDIT_SEAL_INTERVAL_MS ?? 1000), CHECKPOINT_ORIGIN: env.CHECKPOINT_ORIGIN },
  store: store.log,
  baseUrl: 'http://bench.invalid',
  log,
});
evidence.sealer.start();
console.log(`sealer running every ${env.AUDIT_SEAL_INTERVAL_MS ?? 1000} ms`);

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  await evidence.sealer.stop().catch(() => undefined);
  await store.close().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
