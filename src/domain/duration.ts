/**
 * Durations as people write them in the policy and the API: `30s`, `15m`, `1h`, `2d`, or a sum such as `1h30m`.
 * Hand-written (a dozen lines) rather than a dependency: the accepted forms are deliberately few, so a typo such as
 * `15min` or `1.5h` is refused instead of being guessed at.
 */

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
const DURATION = /^(?:\d+[smhd])+$/;
const PART = /(\d+)([smhd])/g;

/** The duration's length in seconds, or undefined when the text is not a duration (or is zero). */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!DURATION.test(t)) return undefined;
  let seconds = 0;
  for (const [, n, unit] of t.matchAll(PART)) seconds += Number(n) * UNIT_SECONDS[unit as keyof typeof UNIT_SECONDS];
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}

/** Seconds back to the shortest text of the same form (`900` → `15m`, `5400` → `1h30m`), for cards and messages. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '0s';
  let rest = Math.round(seconds);
  let out = '';
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

/** The message a bad duration gets, shared by the policy schema and the API contract. */
export const DURATION_HINT = 'a duration such as 30s, 15m, 1h or 2d';
