/**
 * Text limits chat holds to on every platform, and the one way chat shortens text. There is one reason limit, the
 * decision API's (2,000 characters), used by the Slack reason modal and the Teams reason input alike: a reason typed
 * in chat is never cut short on one platform and accepted in full on another. Platform limits (Block Kit's
 * 3,000-character sections, Teams' message size) stay with their renderer; how a whole card is fitted into them is
 * card-budget.ts.
 */

export const TEXT_LIMITS = {
  /** A vote's reason, on every channel (the API's `reason` has the same bound). */
  reason: 2000,
  /** One value in an audit line: enough to recognise it, short enough to keep the line a line. */
  auditValue: 160,
} as const;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/**
 * The longest start of `text` that is at most `max` UTF-16 code units long (the unit platforms count in) and ends
 * between two graphemes, so a cut never leaves half an emoji, a lone surrogate or a letter without its accent. A single
 * grapheme longer than `max` (a flag sequence, a pile of combining marks) is cut between code points instead.
 */
export function prefixWithin(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  const from = knownBoundary(text, max - 64);
  let end = from;
  for (const { index, segment } of graphemes.segment(text.slice(from))) {
    const next = from + index + segment.length;
    if (next > max) break;
    end = next;
  }
  if (end === 0) end = isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}

const isPrintableAscii = (code: number): boolean => code >= 0x20 && code < 0x7f;

/**
 * A position at or before `before` that is certainly a grapheme boundary (between two printable ASCII characters),
 * so only the text near a cut is segmented, not everything before it; 0 when none is near.
 */
function knownBoundary(text: string, before: number): number {
  for (let i = Math.min(before, text.length - 1); i > 0 && i > before - 1024; i--) {
    if (isPrintableAscii(text.charCodeAt(i)) && isPrintableAscii(text.charCodeAt(i - 1))) return i;
  }
  return 0;
}

/** Shortens text to at most `max` UTF-16 code units, marking the cut with an ellipsis; never splits a character. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  return `${prefixWithin(text, max - 1)}…`;
}
