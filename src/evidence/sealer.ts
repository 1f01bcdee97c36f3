/**
 * The sealer's clock: every AUDIT_SEAL_INTERVAL_MS it seals whatever committed since the last checkpoint, then hands
 * new checkpoints (and any a sink still lacks) to the publisher without waiting for it, so a slow webhook never delays
 * the next seal. Runs in every worker process; the advisory lock in the seal transaction makes one of them the sealer
 * at any moment, and another takes over within one interval if it stops.
 */
import type { CheckpointPublisher } from './checkpoint-sinks';
import type { SealResult, TransparencyLog } from './transparency-log';

export interface Sealer {
  start(): void;
  /** Stops the clock and waits for the seal and publication in progress. */
  stop(): Promise<void>;
  /** One seal now, then publication, both awaited (operators' tools, tests). */
  sealNow(): Promise<SealResult>;
}

export function createSealer(deps: {
  log: Pick<TransparencyLog, 'seal'>;
  publisher: CheckpointPublisher;
  intervalMs: number;
  logger: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}): Sealer {
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let current: Promise<unknown> = Promise.resolve();
  let failures = 0;

  async function sealAndPublish(waitForPublication: boolean): Promise<SealResult> {
    const result = await deps.log.seal();
    const publishing = deps.publisher.publishPending();
    if (waitForPublication) await publishing;
    return result;
  }

  function schedule(delay: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      const started = Date.now();
      current = sealAndPublish(false).then(
        () => {
          if (failures > 0) deps.logger.warn({ failures }, 'sealing works again');
          failures = 0;
        },
        (err: unknown) => {
          failures++;
          if (failures <= 3 || failures % 60 === 0) deps.logger.error({ err, failures }, 'sealing the audit log failed; retrying');
        },
      ).finally(() => schedule(Math.max(0, deps.intervalMs - (Date.now() - started))));
    }, delay);
    timer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    async stop() {
      const wasRunning = !stopped;
      stopped = true;
      clearTimeout(timer);
      await current.catch(() => undefined);
      if (wasRunning) await deps.publisher.publishPending();
    },
    sealNow() {
      const run = current.catch(() => undefined).then(() => sealAndPublish(true));
      current = run;
      return run;
    },
  };
}
