/**
 * Cards always fit. A valid request can carry far more text than a chat message may hold (a 4,000-character
 * justification, 50 context values of 2,000 characters, 20 votes with 2,000-character reasons), and a platform refuses
 * or silently cuts a message over its limits. Each renderer states its room as a {@link TextBudget}; {@link fitView}
 * shortens the request's long texts to it, fairly (short values stay whole, long ones share what is left) and on
 * character boundaries, and lists what it shortened so the card can say so and point to the full text. Renderers
 * measure what they built and, when it is still too big, render again with a smaller budget ({@link renderWithin}).
 */
import type { ApprovalView } from '../domain/approval-view';
import { clip } from './text-limits';

/** How much of each long text a card holds, in UTF-16 code units. */
export interface TextBudget {
  /** One single-line fact: resource, names, environment, trace id. */
  fact: number;
  justification: number;
  /** One context key. */
  contextKey: number;
  /** One context value. */
  contextValue: number;
  /** All context values together; each gets a fair share. */
  context: number;
  /** One vote reason, and the decision reason. */
  reason: number;
  /** All vote reasons together; each gets a fair share. */
  reasons: number;
}

/** The least a shrinking budget keeps: a fact stays recognisable, a context key stays a key. */
const FLOOR: TextBudget = { fact: 60, justification: 0, contextKey: 16, contextValue: 0, context: 0, reason: 0, reasons: 0 };

/** The budget scaled down by `factor`, never below {@link FLOOR}. */
export function scaleBudget(budget: TextBudget, factor: number): TextBudget {
  const out = { ...budget };
  for (const k of Object.keys(out) as (keyof TextBudget)[]) out[k] = Math.max(Math.min(FLOOR[k], budget[k]), Math.floor(budget[k] * factor));
  return out;
}

/**
 * Caps that share `total` among texts of these lengths as evenly as possible (max-min fairness): texts shorter than
 * their share stay whole and leave the rest to the longer ones; none gets more than `each`.
 */
export function fairCaps(lengths: number[], total: number, each: number): number[] {
  const caps = new Array<number>(lengths.length).fill(0);
  const order = lengths.map((length, i) => ({ length, i })).sort((a, b) => a.length - b.length);
  let left = Math.max(0, total);
  order.forEach(({ length, i }, k) => {
    const share = Math.floor(left / (order.length - k));
    caps[i] = Math.min(length, each, share);
    left -= caps[i];
  });
  return caps;
}

export interface FittedView {
  view: ApprovalView;
  /** What was shortened, in words ("the justification", "3 context values"); empty when nothing was. */
  shortened: string[];
}

/** The view with every long text held to the budget, and what had to be shortened. */
export function fitView(view: ApprovalView, budget: TextBudget): FittedView {
  const counts = new Map<string, number>();
  const note = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1);
  const cut = (text: string, max: number, what: string): string => {
    const out = clip(text, max);
    if (out !== text) note(what);
    return out;
  };
  const cutOrNull = (text: string | null, max: number, what: string) => (text === null ? null : cut(text, max, what));

  const valueCaps = fairCaps(view.context.map((c) => c.value.length), budget.context, budget.contextValue);
  const reasonCaps = fairCaps(view.votes.map((v) => v.reason?.length ?? 0), budget.reasons, budget.reason);
  const fitted: ApprovalView = {
    ...view,
    action: cut(view.action, budget.fact, 'action'),
    resource: cut(view.resource, budget.fact, 'resource'),
    environment: cutOrNull(view.environment, budget.fact, 'environment'),
    requesterLabel: cut(view.requesterLabel, budget.fact, 'name'),
    onBehalfOfLabel: cutOrNull(view.onBehalfOfLabel, budget.fact, 'name'),
    traceId: cutOrNull(view.traceId, budget.fact, 'trace id'),
    justification: cutOrNull(view.justification, budget.justification, 'justification'),
    context: view.context.map((c, i) => ({ ...c, key: cut(c.key, budget.contextKey, 'context key'), value: cut(c.value, valueCaps[i], 'context value') })),
    votes: view.votes.map((v, i) => ({ ...v, who: cut(v.who, budget.fact, 'name'), reason: cutOrNull(v.reason, reasonCaps[i], 'vote reason') })),
    decidedBy: cutOrNull(view.decidedBy, budget.fact, 'name'),
    decisionReason: cutOrNull(view.decisionReason, budget.reason, 'decision reason'),
  };
  return { view: fitted, shortened: [...counts].map(([what, n]) => countedWords(what, n)) };
}

function countedWords(what: string, n: number): string {
  if (what === 'justification' || what === 'decision reason' || what === 'action' || what === 'resource' || what === 'environment' || what === 'trace id') return `the ${what}`;
  return n === 1 ? `1 ${what}` : `${n} ${what}s`;
}

/** How far {@link renderWithin} shrinks a budget, step by step; the last step keeps only what {@link FLOOR} keeps. */
const SCALES = [1, 0.7, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05, 0.02, 0];

/**
 * Renders the view within `budget`; while `fits` says the result is too big, renders it again with a smaller budget.
 * Returns the first result that fits (renderers guarantee the smallest does).
 */
export function renderWithin<T>(view: ApprovalView, budget: TextBudget, render: (fitted: FittedView) => T, fits: (out: T) => boolean): T {
  let out: T | undefined;
  for (const factor of SCALES) {
    out = render(fitView(view, scaleBudget(budget, factor)));
    if (fits(out)) return out;
  }
  return out as T;
}

/** The note on a shortened card: what was shortened. Renderers follow it with a link to the full text. */
export function shortenedNote(shortened: string[]): string {
  return `Shortened to fit: ${shortened.join(', ')}.`;
}

/** What the link after a {@link shortenedNote} says, and what to say when there is no link to give. */
export const FULL_TEXT = {
  request: 'Full request (API)',
  trail: 'Full trail (API)',
  noLink: (requestId: string) => `The full request is at GET /v1/requests/${requestId} in the API.`,
} as const;

/**
 * The note under a list of events (the `audit` answers) that left some out or shortened their details; the renderer
 * follows it with the link to the full trail, or says where every event is when it has no link.
 */
export function eventsNote(omitted: number, shortened: boolean): string {
  return [omitted ? notShownNote(omitted, 'event') : '', shortened ? 'Long event details were shortened.' : ''].filter(Boolean).join(' ');
}

/** Where every event is, when a search answer has no single request to link. */
export const ALL_EVENTS = 'GET /v1/audit in the API has every event in full.';

/** The note under a pending list that left requests out; `again` is how the user asks again on their platform. */
export function pendingNote(omitted: number, again: string): string {
  return `${notShownNote(omitted, 'request')} Decide on the ones shown, then ${again} again.`;
}

/** The note under a list that had to leave entries out. */
export function notShownNote(count: number, noun: string): string {
  return `${count} more ${noun}${count === 1 ? '' : 's'} not shown here.`;
}
