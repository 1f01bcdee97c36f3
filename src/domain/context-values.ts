/**
 * Request context: small key/value facts an approver needs (dataset, row count, ticket). Values under sensitive keys
 * are replaced by a salted SHA-256 digest before they are stored, so neither the database nor the audit trail nor a
 * chat card ever holds them in clear, while someone who knows the value can still confirm it.
 */
import { createHash } from 'node:crypto';

export type ContextValue = string | number | boolean;
export type StoredContextValue = ContextValue | { sha256: string };
export type StoredContext = Record<string, StoredContextValue>;

/** The digest is salted with the request id so equal secrets in different requests do not look alike. */
export function digestSensitive(requestId: string, value: ContextValue): string {
  return createHash('sha256').update(`${requestId}:${String(value)}`, 'utf8').digest('hex');
}

export function protectContext(
  requestId: string,
  context: Record<string, ContextValue> | undefined,
  isSensitiveKey: (key: string) => boolean,
): StoredContext {
  const out: StoredContext = {};
  for (const [k, v] of Object.entries(context ?? {})) out[k] = isSensitiveKey(k) ? { sha256: digestSensitive(requestId, v) } : v;
  return out;
}

export function isMasked(value: StoredContextValue): value is { sha256: string } {
  return typeof value === 'object' && value !== null;
}

/** How every channel shows a context value: masked ones as a short digest prefix. */
export function renderContextValue(value: StoredContextValue): string {
  return isMasked(value) ? `•••••• (sha256 ${value.sha256.slice(0, 8)}…)` : String(value);
}
