/**
 * Text limits chat holds to on every platform. There is one reason limit, the decision API's (2,000 characters), used
 * by the Slack reason modal and the Teams reason input alike: a reason typed in chat is never cut short on one
 * platform and accepted in full on another. Platform limits (Block Kit's 3,000-character sections, 50 blocks) stay
 * with their renderer.
 */

export const TEXT_LIMITS = {
  /** A vote's reason, on every channel (the API's `reason` has the same bound). */
  reason: 2000,
  /** One value in an audit line: enough to recognise it, short enough to keep the line a line. */
  auditValue: 160,
} as const;

/** Shortens text to at most `max` characters, marking the cut with an ellipsis. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
