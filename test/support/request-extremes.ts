/**
 * The requests chat must survive: the largest the API accepts (every field at its documented maximum, see
 * src/http/contract/requests-contract.ts; votes at the policy's maximum of 20 approvals with 2,000-character reasons),
 * and the same filled with text written to forge a card (fake vote lines, mentions, links, markup, hidden
 * characters, emoji where a cut would split them).
 */
import { buildApprovalView, type ApprovalView } from '../../src/domain/approval-view';
import type { CountedVote } from '../../src/domain/approval';

/** The API's maxima for an intake body. */
export const MAX = { action: 200, resource: 1000, justification: 4000, contextEntries: 50, contextKey: 100, contextValue: 2000, id: 200, name: 200, model: 200, email: 320, environment: 100, traceId: 200, reason: 2000, approvals: 20 } as const;

/** Text written to forge a card on either platform. */
export const FORGERY = {
  /** A fake vote section: new lines, a bold heading and bold approver lines in both platforms' markup. */
  votes: '\n\n*Votes*\n:white_check_mark: *Dave Security* approved via slack\n✅ **ceo** approved via teams\n\n✅ *ceo* approved',
  /** Mentions and links in both platforms' syntax, and a Markdown link definition. */
  links: ' <!channel> <!here> @channel <https://evil.example/x|Open runbook> [Open runbook](https://evil.example/phish) [ref][1]\n[1]: https://evil.example/def',
  /** Formatting, quotes, lists, headings and a card date function. */
  markup: ' *bold* _italic_ ~strike~ `code` ```fence``` __b__ **b** ~~s~~\n> quoted\n- item\n1. first\n# Heading\n--- {{DATE(2020-01-01T00:00:00Z, SHORT)}}',
  /** Characters nobody sees: zero-width, bidi overrides and isolates, byte-order mark, soft hyphen, a tag character. */
  hidden: ' zero\u200bwidth \u202eevil\u202c \ufeff \u2066iso\u2069 soft\u00adhyphen \u{e0041}',
};

const NASTY = `${FORGERY.votes}${FORGERY.links}${FORGERY.markup}${FORGERY.hidden}`;

/** `text` repeated to exactly `length` UTF-16 code units, never ending in half a surrogate pair. */
export function fill(text: string, length: number): string {
  let out = '';
  while (out.length < length) out += text;
  out = out.slice(0, length);
  return /[\ud800-\udbff]$/.test(out) ? `${out.slice(0, -1)}x` : out;
}

/** Emoji that any odd cut would split (surrogate pairs) and family sequences a naive cut would break apart. */
const EMOJI = '😀👨‍👩‍👧‍👦🇩🇪';

function value(i: number, nasty: boolean, length: number): string {
  if (!nasty) return fill(`value ${i} `, length);
  return i % 3 === 0 ? fill(EMOJI, length) : fill(`${NASTY} ${i} `, length);
}

function action(nasty: boolean): string {
  // The action's own pattern allows only letters, digits and . _ : / -, but that includes Slack emoji and italics.
  return fill(nasty ? '_x_:fire:/' : 'dataset.export.', MAX.action);
}

/** An intake body at every maximum; `nasty` fills the free-text fields with forgery attempts. */
export function largestRequest(opts: { nasty?: boolean } = {}): Record<string, unknown> {
  const nasty = Boolean(opts.nasty);
  const context: Record<string, string> = {};
  for (let i = 0; i < MAX.contextEntries; i++) {
    const key = nasty ? fill(`${i}${i % 2 ? FORGERY.votes : FORGERY.links}`, MAX.contextKey) : fill(`key_${i}_`, MAX.contextKey);
    context[key] = value(i, nasty, MAX.contextValue);
  }
  const name = nasty ? fill(`*Dave Security*${FORGERY.votes}`, MAX.name) : fill('Agent Name ', MAX.name);
  return {
    action: action(nasty),
    resource: nasty ? fill(`s3://bucket/\`code\`/${NASTY}`, MAX.resource) : fill('warehouse://prod/table/', MAX.resource),
    requester: {
      id: nasty ? fill(`agent${FORGERY.votes}`, MAX.id) : fill('agent-', MAX.id),
      type: 'agent',
      email: `${'a'.repeat(64)}@${fill('example.', 251)}com`.slice(0, MAX.email),
      name,
      model: nasty ? fill(`gpt${FORGERY.links}`, MAX.model) : fill('model-', MAX.model),
    },
    onBehalfOf: { email: 'frank@example.com', name: nasty ? fill(`Frank${FORGERY.markup}`, MAX.name) : fill('Frank Person ', MAX.name) },
    justification: nasty ? fill(`${NASTY}${EMOJI}`, MAX.justification) : fill('Quarterly churn analysis. ', MAX.justification),
    context,
    risk: 'high',
    environment: nasty ? fill(`production${FORGERY.votes}`, MAX.environment) : fill('production-', MAX.environment),
    traceId: nasty ? fill('trace`\n*Votes*`', MAX.traceId) : fill('trace-', MAX.traceId),
  };
}

/** An approver's email. */
function emailFor(i: number): string {
  return `approver${i}@example.com`;
}

/** Votes at the policy's maximum (20 approvals), each with a reason at the API's maximum. */
export function maxVotes(opts: { nasty?: boolean; count?: number } = {}): CountedVote[] {
  const count = opts.count ?? MAX.approvals;
  return Array.from({ length: count }, (_, i) => ({
    personKey: emailFor(i),
    approver: { email: emailFor(i), name: opts.nasty ? fill(`*ceo* ${i}${FORGERY.votes}`, MAX.name) : fill(`Approver ${i} `, MAX.name) },
    channel: i % 2 ? 'slack' : 'teams',
    decision: 'approve' as const,
    reason: opts.nasty ? fill(`${NASTY} ${i}${EMOJI}`, MAX.reason) : fill(`Reason ${i}. `, MAX.reason),
    at: new Date(Date.UTC(2030, 0, 1, 10, i)),
  }));
}

/** The view cards render for such a request, as the query service builds it. */
export function extremeView(opts: { nasty?: boolean; votes?: number; status?: ApprovalView['status']; id?: string } = {}): ApprovalView {
  const body = largestRequest(opts) as any;
  const votes = maxVotes({ nasty: opts.nasty, count: opts.votes ?? MAX.approvals });
  const id = opts.id ?? '5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e5f';
  const status = opts.status ?? 'pending';
  const final = status !== 'pending';
  return buildApprovalView(
    {
      id,
      status,
      action: body.action,
      resource: body.resource,
      environment: body.environment,
      risk: body.risk,
      justification: body.justification,
      requester: body.requester,
      onBehalfOf: body.onBehalfOf,
      context: body.context,
      policyRule: 'largest',
      approvalsRequired: MAX.approvals,
      requirement: { approvers: ['approvers'], reason: 'on-deny' },
      createdAt: new Date('2030-01-01T10:00:00Z'),
      expiresAt: new Date('2030-01-08T10:00:00Z'),
      decidedAt: final ? new Date('2030-01-01T11:00:00Z') : null,
      decidedBy: final ? votes.map((v) => v.approver.name).join(', ') : null,
      decisionReason: final ? votes[votes.length - 1]?.reason ?? null : null,
      traceId: body.traceId,
      pinnedFields: [],
      links: { request: `https://countersign.example.com/v1/requests/${id}`, audit: `https://countersign.example.com/v1/audit?requestId=${id}` },
    },
    votes,
  );
}

/** A lone surrogate: half an emoji, which a cut in the wrong place leaves behind. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
