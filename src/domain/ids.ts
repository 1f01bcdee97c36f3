/** Identifier formats the product hands out: request ids are UUIDs (any version, case-insensitive); audit seqs are bigints. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** An audit event seq (or any PostgreSQL bigint key) as decimal text: at most 2^63 - 1, so it never overflows a query. */
export function isSeqText(text: string): boolean {
  return /^\d{1,19}$/.test(text) && BigInt(text) <= 9223372036854775807n;
}

/** The latest instant PostgreSQL and ISO 8601 four-digit years both hold (9999-12-31T23:59:59.999Z), in ms. */
export const LAST_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
