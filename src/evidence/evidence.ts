/**
 * Evidence: what the service signs so that its records hold up without trusting its database. It owns the signing
 * key (src/evidence/signing-key.ts; grants will sign with it too), the transparency log over the audit trail
 * (transparency-log.ts), the sealer that extends it (sealer.ts) and the sinks checkpoints are published to
 * (checkpoint-sinks.ts), and the approval grants and callback signatures made with the same key (grants.ts).
 * `createEvidence` assembles them from their configuration keys for the composition root.
 */
import path from 'node:path';
import { ConfigError } from '../config/config-error';
import type { LogStore } from '../store/log-store';
import { createCheckpointPublisher, createFileSink, createWebhookSink, type CheckpointSink } from './checkpoint-sinks';
import { createGrantAuthority } from './grants';
import { createSealer } from './sealer';
import { loadSigningKey, parseRetiredKeys, SigningKeyError } from './signing-key';
import { createTransparencyLog } from './transparency-log';

/** The configuration keys evidence reads (see src/config/config.ts). */
export interface EvidenceConfig {
  DATA_DIR: string;
  AUDIT_SEAL_INTERVAL_MS: number;
  SIGNING_KEY_FILE?: string;
  SIGNING_KEY?: string;
  SIGNING_KEY_RETIRED?: string;
  CHECKPOINT_ORIGIN?: string;
  CHECKPOINT_DIR?: string;
  CHECKPOINT_WEBHOOK_URL?: string;
}

/** How long the checkpoint webhook may take before the attempt counts as failed (and is retried). */
const WEBHOOK_TIMEOUT_MS = 5_000;

/** The default origin: this service's public host, e.g. `countersign.example.com/audit`. */
export function defaultOrigin(baseUrl: string): string {
  return `${new URL(baseUrl).host}/audit`;
}

export function createEvidence(deps: {
  config: EvidenceConfig;
  store: LogStore;
  baseUrl: string;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  clock?: () => Date;
}) {
  const { config, log } = deps;
  let key;
  let retiredKeys;
  try {
    key = loadSigningKey({ inlineKey: config.SIGNING_KEY, keyFile: config.SIGNING_KEY_FILE, dataDir: config.DATA_DIR, log });
    retiredKeys = parseRetiredKeys(config.SIGNING_KEY_RETIRED);
  } catch (err) {
    if (err instanceof SigningKeyError) throw new ConfigError([err.message]);
    throw err;
  }
  const fileSink = createFileSink(config.CHECKPOINT_DIR ?? path.join(config.DATA_DIR, 'checkpoints'));
  const sinks: CheckpointSink[] = [fileSink];
  if (config.CHECKPOINT_WEBHOOK_URL) sinks.push(createWebhookSink({ url: config.CHECKPOINT_WEBHOOK_URL, key, timeoutMs: WEBHOOK_TIMEOUT_MS }));

  const auditLog = createTransparencyLog({
    store: deps.store,
    key,
    retiredKeys,
    origin: config.CHECKPOINT_ORIGIN ?? defaultOrigin(deps.baseUrl),
    latestPublished: () => fileSink.latest(),
    log,
    clock: deps.clock,
  });
  const publisher = createCheckpointPublisher({ store: deps.store, sinks, log, webhookUrl: config.CHECKPOINT_WEBHOOK_URL });
  const sealer = createSealer({ log: auditLog, publisher, intervalMs: config.AUDIT_SEAL_INTERVAL_MS, logger: log });
  // Approval grants are signed with the same key and published in the same JWKS (src/evidence/grants.ts).
  const grants = createGrantAuthority({ key, retiredKeys, issuer: deps.baseUrl, clock: deps.clock });
  return { key, auditLog, sealer, publisher, grants, checkpointDir: fileSink.dir };
}

export type Evidence = ReturnType<typeof createEvidence>;
