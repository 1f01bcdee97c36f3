/** Canonical JSON writes exactly what the earlier sort-then-JSON.stringify implementation wrote, and is stable. */
import { canonicalJson } from '../../src/domain/canonical-json';

/** The earlier implementation, kept as the reference. */
function reference(value: unknown): string {
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v instanceof Date) return v.toISOString();
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v as object).sort()) {
        const x = (v as Record<string, unknown>)[k];
        if (x !== undefined) out[k] = sortKeys(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(sortKeys(value));
}

const SAMPLES: unknown[] = [
  null, true, 0, -1.5e-7, 'plain', 'quote " backslash \\ newline \n tab \t', 'Zoë 🚀 \u2028 \u0001',
  [], {}, [1, 'a', null, undefined, () => 1, [2, [3]]],
  { b: 1, a: 2, c: { z: [{ y: 1, x: undefined }], a: new Date('2026-11-28T12:00:00.123Z') } },
  { '10': 'ten', '2': 'two', b: 'bee', '01': 'leading zero', '-1': 'negative', '4294967295': 'too big', '4294967294': 'max index', a: 'a' },
  { v: 1, type: 'request.submitted', requestId: null, actor: { key: 'agent:x', ids: ['agent:x'], label: undefined }, data: { context: { rows: 120000, ok: false } } },
  { nested: { '3': [{ '1': 1, '0': 0 }], x: NaN, y: Infinity } },
];

it('matches the reference implementation byte for byte', () => {
  for (const s of SAMPLES) expect({ s, out: canonicalJson(s) }).toEqual({ s, out: reference(s) });
});

it('is the same whatever the key order', () => {
  expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: 'x' })).toBe(canonicalJson({ a: 'x', b: [1, { c: 2, d: 1 }] }));
  expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: 'x' })).toBe('{"a":"x","b":[1,{"c":2,"d":1}]}');
});
