/**
 * `policy replay`: a draft policy evaluated against the requests actually recorded in a window, and what would change.
 * Read-only: it reads requests through the request store and writes nothing (no audit event: nothing happened).
 *
 * Budgets are not simulated: a draft rule with a budget is read as approving every request it matches (except those
 * recorded past a budget, which follow the draft budget's `then`), and the output says how many requests that concerns, because counting them would need the order and timing of every request of the
 * window against every budget window, and a replay that half-simulates them would look more exact than it is.
 */
import type { Policy, PolicyDecision, Requirement } from '../domain/policy';
import type { RequestRecord, RequestStore } from '../store/request-store';

/** What differs between the recorded policy answer and the draft's, from the reviewer's point of view. */
export type ReplayChange =
  | 'now approved'
  | 'now denied'
  | 'now needs approval'
  | 'needs more approvals'
  | 'needs fewer approvals'
  | 'other approvers'
  | 'other rule, same outcome';

/** The order the summary lists changes in: the ones a reviewer must look at first come first. */
const CHANGE_ORDER: ReplayChange[] = ['now approved', 'now denied', 'now needs approval', 'needs more approvals', 'needs fewer approvals', 'other approvers', 'other rule, same outcome'];

interface Answer {
  outcome: PolicyDecision['outcome'];
  rule: string;
  requirement: Requirement | null;
}

const sortedKey = (xs: string[]) => [...xs].sort().join('\n');

/** The requirement's quorum as a reader says it: `2 of data-owners`, `1 of security + 1 of data-owners`, stages with `then`. */
export function describeRequirement(req: Requirement | null | undefined): string {
  if (!req) return '';
  if (req.stages?.length) {
    return req.stages
      .map((s) => s.quorum.map((q) => `${q.count} of ${q.group ?? s.approvers.join('/')}`).join(' + '))
      .join(' then ');
  }
  return `${req.approvals} of ${req.approvers.join('/')}`;
}

/** The quorum's shape, comparable between two requirements: same text, same people asked in the same way. */
const quorumShape = (req: Requirement) => describeRequirement(req);

/** How the draft's answer differs from the recorded one, or null when it does not. */
export function classifyChange(was: Answer, now: Answer): ReplayChange | null {
  if (was.outcome !== now.outcome) {
    if (now.outcome === 'approve') return 'now approved';
    if (now.outcome === 'deny') return 'now denied';
    return 'now needs approval';
  }
  if (now.outcome === 'require' && was.requirement && now.requirement) {
    if (now.requirement.approvals > was.requirement.approvals) return 'needs more approvals';
    if (now.requirement.approvals < was.requirement.approvals) return 'needs fewer approvals';
    if (sortedKey(now.requirement.approvers) !== sortedKey(was.requirement.approvers) || quorumShape(now.requirement) !== quorumShape(was.requirement)) return 'other approvers';
  }
  if (was.rule !== now.rule) return 'other rule, same outcome';
  return null;
}

/**
 * Agent-sent text (action, resource, requester id) goes to an operator's terminal: control characters and bidirectional
 * overrides are shown escaped so a request cannot rewrite the report (hand-written: one regex, no library covers it).
 */
export function printable(text: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe;
}

function describe(a: Answer): string {
  return a.outcome === 'require' ? `require "${a.rule}" (${describeRequirement(a.requirement)})` : `${a.outcome} "${a.rule}"`;
}

/** Every request created in [since, until), newest first, at most `limit` (pages through the store's list). */
async function* recorded(requests: Pick<RequestStore, 'list'>, since: Date, until: Date, limit: number): AsyncGenerator<RequestRecord> {
  // The list's cursor is "strictly older than": start just past `until` with the largest id.
  let after = { createdAt: until, id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' };
  let seen = 0;
  for (;;) {
    const page = await requests.list({}, { limit: Math.min(500, limit - seen), after });
    for (const r of page) {
      if (r.createdAt < since) return;
      if (r.createdAt >= until) continue;
      yield r;
      if (++seen >= limit) return;
    }
    if (page.length === 0) return;
    const last = page[page.length - 1];
    after = { createdAt: last.createdAt, id: last.id };
  }
}

/** Runs the replay and prints its report; returns the process exit code (0: ran, whatever changed). */
export async function runReplay(deps: {
  policy: Policy;
  file: string;
  since: Date;
  until: Date;
  limit: number;
  requests: Pick<RequestStore, 'list'>;
  out: (s: string) => void;
}): Promise<number> {
  const { policy, out } = deps;
  const changed = Object.fromEntries(CHANGE_ORDER.map((c) => [c, 0])) as Record<ReplayChange, number>;
  const lines = new Map<ReplayChange, string[]>(CHANGE_ORDER.map((c) => [c, []]));
  let examined = 0;
  let budgetMatched = 0;
  for await (const r of recorded(deps.requests, deps.since, deps.until, deps.limit)) {
    examined++;
    const decision = policy.evaluate({
      action: r.action,
      resource: r.resource,
      environment: r.environment ?? undefined,
      risk: r.risk ?? undefined,
      requester: { id: r.requester.id, type: r.requester.type, email: r.requester.email },
    });
    if (decision.budget) budgetMatched++;
    // A request that found its budget spent when it was recorded is read as finding the draft's spent too (the one
    // part of budgets replayed): it follows the draft budget's `then`.
    const effective = decision.budget && r.requirement?.budgetExhausted ? decision.budget.exhausted : decision;
    const was: Answer = { outcome: r.policyOutcome, rule: r.policyRule, requirement: r.requirement };
    const now: Answer = { outcome: effective.outcome, rule: effective.rule, requirement: effective.requirement ?? null };
    const change = classifyChange(was, now);
    if (!change) continue;
    changed[change]++;
    lines.get(change)!.push(
      `  ${r.id}  ${r.createdAt.toISOString()}  ${printable(r.action, 60)} on ${printable(r.resource)}${r.environment ? ` [${printable(r.environment, 40)}]` : ''} by ${printable(r.requester.id, 60)}\n` +
        `      was ${describe(was)}, ended ${r.status}${r.decidedBy ? ` (${printable(r.decidedBy, 80)})` : ''}; now ${describe(now)}`,
    );
  }
  const total = CHANGE_ORDER.reduce((n, c) => n + changed[c], 0);
  out(`Replay of ${deps.file} (sha256 ${policy.hash.slice(0, 12)}) against ${examined} request${examined === 1 ? '' : 's'} created ${deps.since.toISOString()} .. ${deps.until.toISOString()}`);
  if (examined >= deps.limit) out(`(stopped at --limit ${deps.limit}: older requests of the window were not examined)`);
  out(`${total} would change, ${examined - total} unchanged`);
  for (const c of CHANGE_ORDER) if (changed[c]) out(`  ${c}: ${changed[c]}`);
  if (budgetMatched) out(`Budgets are not simulated: ${budgetMatched} request${budgetMatched === 1 ? '' : 's'} matched a rule with a budget; those recorded past a budget follow the draft's \`then\`, the others are counted as approved by policy.`);
  for (const c of CHANGE_ORDER) {
    if (!changed[c]) continue;
    out(`\n${c} (${changed[c]}):`);
    for (const l of lines.get(c)!) out(l);
  }
  return 0;
}
