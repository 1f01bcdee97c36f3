/**
 * Where checkpoints go once they are committed: places outside PostgreSQL, so that whoever controls the database
 * cannot quietly roll the log back. Two sinks:
 *
 * - a directory where each checkpoint is written once, as `<tree size>.checkpoint` (exclusive create, fsynced);
 *   mount it on write-once storage (README) and auditors read it as it is;
 * - a webhook: the checkpoint POSTed as JSON, signed with the service's Ed25519 key over the exact body
 *   (`countersign-signature: <base64 signature>`, `countersign-key-id: <kid>`), so receivers can tell it came from
 *   this service.
 *
 * The publisher runs after each seal, outside any transaction: a failing sink is retried with backoff and logged,
 * never blocks sealing; `audit_checkpoint_publication` records what reached which sink, so nothing is forgotten
 * across restarts. Delivery is at least once: receivers deduplicate by tree size.
 */
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LogStore, StoredCheckpoint } from '../store/log-store';
import type { SigningKey } from './signing-key';

export interface CheckpointSink {
  /** Stable name, recorded with each publication. */
  readonly name: string;
  publish(c: StoredCheckpoint): Promise<void>;
}

const CHECKPOINT_FILE = /^(0|[1-9][0-9]*)\.checkpoint$/;

/** The directory sink. `latest()` is the newest checkpoint published there (what the sealer and the verifier trust). */
export function createFileSink(dir: string): CheckpointSink & { dir: string; latest(): Promise<string | null> } {
  const resolved = path.resolve(dir);
  return {
    name: 'file',
    dir: resolved,
    async publish(c) {
      await mkdir(resolved, { recursive: true, mode: 0o755 });
      const file = path.join(resolved, `${c.treeSize}.checkpoint`);
      let fh;
      try {
        // Written once, never replaced: read-only from the start.
        fh = await open(file, 'wx', 0o444);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        if ((await readFile(file, 'utf8')) === c.note) return; // an earlier attempt got there
        throw new Error(`${file} already holds a different checkpoint of size ${c.treeSize}: the log was forked or the file altered`);
      }
      try {
        await fh.writeFile(c.note, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      // The directory entry too, so a crash cannot lose a checkpoint already recorded as published.
      const dirHandle = await open(resolved, 'r');
      try {
        await dirHandle.sync();
      } finally {
        await dirHandle.close();
      }
    },
    async latest() {
      let names: string[];
      try {
        names = await readdir(resolved);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      let best = -1;
      for (const n of names) {
        const m = CHECKPOINT_FILE.exec(n);
        if (m && Number(m[1]) > best) best = Number(m[1]);
      }
      return best < 0 ? null : readFile(path.join(resolved, `${best}.checkpoint`), 'utf8');
    },
  };
}

/** The body a checkpoint webhook carries. */
export function webhookBody(c: StoredCheckpoint): string {
  return JSON.stringify({
    type: 'audit.checkpoint',
    origin: c.origin,
    treeSize: c.treeSize,
    rootHash: c.rootHash.toString('base64'),
    keyId: c.keyId,
    createdAt: c.createdAt.toISOString(),
    note: c.note,
  });
}

/** The webhook sink: POST, signed; any non-2xx answer or network failure is retried. */
export function createWebhookSink(opts: { url: string; key: SigningKey; timeoutMs: number }): CheckpointSink {
  return {
    name: 'webhook',
    async publish(c) {
      const body = webhookBody(c);
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'countersign-checkpoints',
          'countersign-key-id': opts.key.kid,
          'countersign-signature': opts.key.sign(Buffer.from(body, 'utf8')).toString('base64'),
        },
        body,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`checkpoint webhook answered HTTP ${res.status}`);
    },
  };
}

/** Where a URL points, without credentials, path or query (which may hold a token): fit for logs. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparseable URL)';
  }
}

export interface CheckpointPublisher {
  /** Publishes every committed checkpoint some sink lacks; one round at a time, never throws. */
  publishPending(): Promise<void>;
  readonly sinks: readonly CheckpointSink[];
}

export function createCheckpointPublisher(deps: {
  store: Pick<LogStore, 'unpublished' | 'markPublished'>;
  sinks: readonly CheckpointSink[];
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** Where the webhook points, for log lines (host only). */
  webhookUrl?: string;
  now?: () => number;
}): CheckpointPublisher {
  const now = deps.now ?? Date.now;
  const state = new Map(deps.sinks.map((s) => [s.name, { watermark: 0, failures: 0, retryAt: 0 }]));
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;

  async function publishSink(sink: CheckpointSink): Promise<void> {
    const st = state.get(sink.name)!;
    if (now() < st.retryAt) return;
    for (;;) {
      const pending = await deps.store.unpublished(sink.name, st.watermark, 100);
      for (const c of pending) {
        try {
          await sink.publish(c);
          await deps.store.markPublished(c.treeSize, sink.name);
        } catch (err) {
          st.failures++;
          st.retryAt = now() + Math.min(60_000, 500 * 2 ** Math.min(st.failures, 7));
          const where = sink.name === 'webhook' && deps.webhookUrl ? { host: hostOf(deps.webhookUrl) } : {};
          // The first failures and then one in ten: a sink down for hours must not flood the log.
          if (st.failures <= 3 || st.failures % 10 === 0) {
            deps.log.warn({ sink: sink.name, ...where, treeSize: c.treeSize, failures: st.failures, err }, 'could not publish a checkpoint; will retry');
          }
          return;
        }
        if (st.failures > 0) deps.log.info({ sink: sink.name, after: st.failures }, 'checkpoint sink recovered');
        st.failures = 0;
        st.watermark = c.treeSize;
      }
      if (pending.length < 100) return;
    }
  }

  return {
    sinks: deps.sinks,
    publishPending() {
      // One round at a time; a call during a round gets a round of its own after it, so a checkpoint committed just
      // before the call is always covered by the promise it returns.
      if (running) {
        queued ??= running.then(() => {
          queued = null;
          return this.publishPending();
        });
        return queued;
      }
      running = Promise.all(
        deps.sinks.map((s) => publishSink(s).catch((err) => deps.log.error({ sink: s.name, err }, 'checkpoint publication failed'))),
      ).then(
        () => {
          running = null;
        },
        () => {
          running = null;
        },
      );
      return running;
    },
  };
}
