/**
 * Text that reaches a card from outside Countersign's own wording (everything an agent submits, people's names, vote
 * reasons) is a claim, and may be written to deceive the person who reads it. Before a renderer escapes it for its
 * platform's markup, the kit makes it plain: characters that would be invisible or reorder what is shown become
 * visible, and line breaks are either kept for the renderer to contain (multi-line texts) or shown as a mark, so a
 * value meant for one line can never start a line of the card.
 */

/**
 * Characters a reader cannot see or that change how the text around them is displayed: C0/C1 controls (but tab and
 * line breaks, handled apart), the soft hyphen, bidirectional overrides and isolates (the "Trojan Source" trick),
 * zero-width spaces and joiners used to split words, invisible fillers, the byte-order mark, and the tag characters
 * that can smuggle whole sentences no reader sees. The zero-width joiner (U+200D) and variation selectors are kept:
 * emoji need them, and they cannot hide or reorder anything.
 */
const HIDDEN = /[\u0000-\u0008\u000e-\u001f\u007f-\u0084\u0086-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff0-\ufffb]/g;

const HIDDEN_TAGS = /[\u{e0000}-\u{e007f}]/gu;

/** A surrogate without its other half: shown as the replacement character rather than sent broken. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Every way text can break a line, including the Unicode line and paragraph separators and NEL. */
const LINE_BREAK = /\r\n|[\n\r\u000b\u000c\u0085\u2028\u2029]/g;

/** What a hidden character is replaced with: a visible sign that something was there. */
export const HIDDEN_MARK = '\ufffd';

/** What a line break inside a one-line value is shown as. */
export const LINE_BREAK_MARK = ' ⏎ ';

/**
 * Outside text made plain: hidden characters visible, tabs as spaces, every kind of line break as `\n`. The result
 * still needs the platform's escaping.
 */
export function agentText(text: string): string {
  return text.replace(LONE_SURROGATE, HIDDEN_MARK).replace(LINE_BREAK, '\n').replace(/\t/g, ' ').replace(HIDDEN, HIDDEN_MARK).replace(HIDDEN_TAGS, HIDDEN_MARK);
}

/** Outside text for a place that holds one line (a fact, a name, a list entry): line breaks shown as ⏎. */
export function oneLine(text: string): string {
  return agentText(text).replace(/\n/g, LINE_BREAK_MARK);
}

/** Outside text that may span lines (a justification), as its lines; the renderer keeps every line inside its box. */
export function agentLines(text: string): string[] {
  return agentText(text).split('\n');
}
