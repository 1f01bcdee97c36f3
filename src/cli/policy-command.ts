/**
 * `npm run cli -- policy check|test|replay`: the policy author's tools, usable in CI without a running service.
 *
 *   policy check <file>                       every problem at once (structure and meaning), exit 1 when any
 *   policy test <file> <cases.yaml>           expected outcomes for sample requests, a PASS/FAIL line each, exit 1 on a failure
 *   policy replay <file> --since 30d          the draft against the requests recorded in the database: what would change
 *
 * `check` and `test` are offline (no configuration, no database); `replay` reads the database named by DATABASE_URL
 * (like the service) through src/store/.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Config } from '../config/config';
import { checkPolicyText } from '../config/load-policy';
import { REQUESTER_TYPES, RISKS, type Policy, type PolicyDecision } from '../domain/policy';
import type { createStore } from '../store/store';
import { parseWhen } from './evidence-command';
import { runReplay } from './policy-replay';

export const POLICY_USAGE = `  npm run cli -- policy check <policy file>
  npm run cli -- policy test <policy file> <cases.yaml>
  npm run cli -- policy replay <policy file> --since <30d | 12h | ISO time> [--until <ISO time>] [--limit <n>]`;

/** Reads and checks a policy file: the compiled policy, or every problem as `path: message` lines. */
export function readPolicyFile(file: string): { policy?: Policy; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { problems: [`cannot read ${file}: ${(err as Error).message}`] };
  }
  const checked = checkPolicyText(text);
  return { policy: checked.policy, problems: checked.problems.map((p) => `${p.path}: ${p.message}`) };
}

const stringList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));

/** One sample request and what the policy must answer for it. */
const caseSchema = z
  .object({
    name: z.string().min(1),
    request: z
      .object({
        action: z.string().min(1),
        resource: z.string().min(1),
        environment: z.string().min(1).optional(),
        risk: z.enum(RISKS).optional(),
        requester: z.object({ id: z.string().min(1), type: z.enum(REQUESTER_TYPES).default('agent'), email: z.string().optional() }).strict(),
      })
      .strict(),
    expect: z
      .object({
        outcome: z.enum(['approve', 'deny', 'require']),
        rule: z.string().min(1).optional(),
        /** The approver groups, in any order (require only). */
        approvers: stringList.optional(),
        /** How many approvals in all, or per group (`{ security: 1, data-owners: 1 }`). */
        approvals: z.union([z.number().int().min(1), z.record(z.string(), z.number().int().min(1))]).optional(),
        /** The channels the cards go to, in any order. */
        channels: stringList.optional(),
      })
      .strict(),
  })
  .strict();
export const casesFileSchema = z.object({ cases: z.array(caseSchema).min(1, 'list at least one case') }).strict();
export type PolicyCase = z.output<typeof caseSchema>;

const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** Per-group quorums of a decision (stage quorums summed per group; `*` for "from any of the groups"). */
function quorumsOf(decision: PolicyDecision): Record<string, number> {
  const stages = (decision.requirement as { stages?: { quorum: { group: string | null; count: number }[] }[] } | undefined)?.stages;
  const out: Record<string, number> = {};
  for (const q of (stages ?? []).flatMap((s) => s.quorum)) out[q.group ?? '*'] = (out[q.group ?? '*'] ?? 0) + q.count;
  return out;
}

/** Every way `decision` differs from what the case expects (empty: it passes). */
export function caseMismatches(c: PolicyCase, decision: PolicyDecision): string[] {
  const e = c.expect;
  const out: string[] = [];
  if (decision.outcome !== e.outcome) out.push(`outcome: expected ${e.outcome}, got ${decision.outcome}`);
  if (e.rule !== undefined && decision.rule !== e.rule) out.push(`rule: expected "${e.rule}", got "${decision.rule}"`);
  const req = decision.requirement;
  if (e.approvers && !(req && sameSet(req.approvers, e.approvers))) out.push(`approvers: expected [${e.approvers.join(', ')}], got [${req?.approvers.join(', ') ?? ''}]`);
  if (typeof e.approvals === 'number' && req?.approvals !== e.approvals) out.push(`approvals: expected ${e.approvals}, got ${req?.approvals ?? 'none'}`);
  if (e.approvals !== undefined && typeof e.approvals !== 'number') {
    const got = req ? quorumsOf(decision) : {};
    const want = e.approvals;
    const equal = Object.keys(want).length === Object.keys(got).length && Object.entries(want).every(([g, n]) => got[g] === n);
    if (!equal) out.push(`approvals: expected ${JSON.stringify(want)}, got ${req ? (Object.keys(got).length ? JSON.stringify(got) : String(req.approvals)) : 'none'}`);
  }
  if (e.channels && !(req && sameSet(req.channels, e.channels))) out.push(`channels: expected [${e.channels.join(', ')}], got [${req?.channels.join(', ') ?? ''}]`);
  return out;
}

/** Reads a cases file: the cases, or every problem in it. */
export function readCasesFile(file: string): { cases?: PolicyCase[]; problems: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'), { prettyErrors: true });
  } catch (err) {
    return { problems: [`cannot read ${file}: ${(err as Error).message}`] };
  }
  const parsed = casesFileSchema.safeParse(doc);
  if (!parsed.success) return { problems: parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`) };
  return { cases: parsed.data.cases, problems: [] };
}

/** What `replay` needs when it runs; `check` and `test` need none of it. */
export interface PolicyCommandContext {
  out: (s: string) => void;
  /** Opens the configuration and the database (replay only). */
  openStore: () => { config: Config; store: ReturnType<typeof createStore> };
}

export async function runPolicyCommand(argv: string[], ctx: PolicyCommandContext): Promise<number> {
  const { out } = ctx;
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { since: { type: 'string' }, until: { type: 'string' }, limit: { type: 'string' } },
    }));
  } catch (err) {
    out(`${(err as Error).message}\n${POLICY_USAGE}`);
    return 64;
  }
  const [command, file, casesFile] = positionals;
  if (!file || !['check', 'test', 'replay'].includes(command) || (command === 'test' && !casesFile)) {
    out(POLICY_USAGE);
    return 64;
  }
  const { policy, problems } = readPolicyFile(file);
  if (!policy) {
    out(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    for (const p of problems) out(`  - ${p}`);
    return 1;
  }
  if (command === 'check') {
    out(`${file}: valid (${policy.rules.length} rules including the default, ${Object.keys(policy.groups).length} groups; sha256 ${policy.hash})`);
    return 0;
  }
  if (command === 'test') {
    const read = readCasesFile(casesFile);
    if (!read.cases) {
      out(`${casesFile}: ${read.problems.length} problem${read.problems.length === 1 ? '' : 's'}`);
      for (const p of read.problems) out(`  - ${p}`);
      return 1;
    }
    let failed = 0;
    for (const c of read.cases) {
      const decision = policy.evaluate(c.request);
      const mismatches = caseMismatches(c, decision);
      if (mismatches.length) failed++;
      out(`${mismatches.length ? 'FAIL' : 'PASS'}  ${c.name}${mismatches.length ? `\n${mismatches.map((m) => `      ${m}`).join('\n')}` : `  (${decision.outcome} by ${decision.rule})`}`);
    }
    out(`${read.cases.length - failed} passed, ${failed} failed`);
    return failed ? 1 : 0;
  }
  const now = new Date();
  const since = values.since ? parseWhen(values.since, now) : null;
  const until = values.until ? parseWhen(values.until, now) : now;
  const limit = values.limit === undefined ? 10_000 : Number(values.limit);
  if (!since || !until || !Number.isInteger(limit) || limit < 1) {
    out(`${!since ? `--since ${values.since ?? ''}: required, an ISO time or a span like 30d\n` : ''}${!until ? `--until ${values.until}: not an ISO time or a span like 30d\n` : ''}${!Number.isInteger(limit) || limit < 1 ? '--limit: a whole number of at least 1\n' : ''}${POLICY_USAGE}`);
    return 64;
  }
  const { store } = ctx.openStore();
  try {
    return await runReplay({ policy, file, since, until, limit, requests: store.requests, out });
  } finally {
    await store.close();
  }
}
