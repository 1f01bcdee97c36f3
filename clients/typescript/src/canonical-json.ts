/**
 * JSON Canonicalization (RFC 8785) for the values requests carry (strings, finite numbers, booleans, null, objects,
 * arrays): JSON.stringify with object keys sorted by UTF-16 code units at every level, which is what JCS prescribes
 * for this domain. A copy of the service's own, so the client has no server dependency.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // Array.prototype.sort without a comparator compares UTF-16 code units, as RFC 8785 requires.
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}
