/**
 * Canonical JSON: object keys sorted at every level, no whitespace, so the same value always gives the same bytes.
 * Audit payloads (the leaves of the transparency log) and request body digests (idempotency) are built with it.
 *
 * It writes the text directly rather than building a sorted copy and calling JSON.stringify on it (half the CPU on
 * the intake path), and gives byte for byte what the earlier `JSON.stringify(sortKeys(value))` gave, so payloads and
 * digests stay comparable across versions (test/domain/canonical-json.test.ts holds the two equal): dates as ISO
 * strings, `undefined` members left out, `undefined` array items as null, and, as a rebuilt JavaScript object orders
 * them, integer-like keys first in numeric order, then the others sorted.
 */

export function canonicalJson(value: unknown): string {
  return write(value) ?? 'null';
}

function write(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'object':
      break;
    case 'bigint':
      // JSON.stringify refuses it too; say so the same way.
      return JSON.stringify(value);
    default:
      return undefined; // undefined, functions, symbols: left out like JSON.stringify does
  }
  if (value === null) return 'null';
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + (write(value[i]) ?? 'null');
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = orderedKeys(obj);
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = write(obj[k]);
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${v}`;
    first = false;
  }
  return `${out}}`;
}

/** Array-index keys ("0" … "4294967294") are the ones a JavaScript object always lists first, in numeric order. */
function isIndexKey(k: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(k) && Number(k) < 4294967295;
}

function orderedKeys(obj: Record<string, unknown>): string[] {
  const keys = Object.keys(obj).sort();
  if (!keys.some(isIndexKey)) return keys;
  const index = keys.filter(isIndexKey).sort((a, b) => Number(a) - Number(b));
  return [...index, ...keys.filter((k) => !isIndexKey(k))];
}
