/**
 * Policy: which actions are routine, which are forbidden, and who must approve the rest.
 * Pure: parsing text into a policy happens in src/config/load-policy.ts; this module validates and evaluates.
 */
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from './duration';
import { formatIdentity, isIdentity, parseIdentity, PERSON_ID_PATTERN, type Identity, type Person } from './people';

export const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export type Risk = (typeof RISKS)[number];
export const REQUESTER_TYPES = ['agent', 'service', 'human'] as const;
export type RequesterType = (typeof REQUESTER_TYPES)[number];
export const REASON_MODES = ['none', 'on-deny', 'always'] as const;
export type ReasonMode = (typeof REASON_MODES)[number];

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
/** A group member or key owner: a person id, or one of a person's identities (see src/domain/people.ts). */
const personRef = z.string().trim().min(1).superRefine((v, ctx) => {
  if (PERSON_ID_PATTERN.test(v)) return;
  const parsed = parseIdentity(v);
  if (!isIdentity(parsed)) ctx.addIssue({ code: 'custom', message: `members are person ids or identities: ${parsed.error}` });
});
const identityText = z.string().trim().min(1).superRefine((v, ctx) => {
  const parsed = parseIdentity(v);
  if (!isIdentity(parsed)) ctx.addIssue({ code: 'custom', message: parsed.error });
});
const personSchema = z
  .object({
    id: z.string().regex(PERSON_ID_PATTERN, 'person ids use a-z, 0-9, . _ - (no @ or :)'),
    name: z.string().min(1).max(200).optional(),
    identities: z.array(identityText).min(1, 'list at least one identity'),
  })
  .strict();
const channelPattern = /^(slack|teams):.+$/;

const matchSchema = z
  .object({
    action: stringOrList.optional(),
    resource: stringOrList.optional(),
    environment: stringOrList.optional(),
    risk: z.union([z.enum(RISKS), z.array(z.enum(RISKS)).min(1)]).optional(),
    requesterType: z.union([z.enum(REQUESTER_TYPES), z.array(z.enum(REQUESTER_TYPES)).min(1)]).optional(),
    /** Globs on the requester id or email. */
    requester: stringOrList.optional(),
  })
  .strict();

const groupName = z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'group names use letters, digits, _ . -');

/** A duration written as text (`30s`, `15m`, `1h`, `2d`, `1h30m`), read as seconds. */
export const durationSchema = z.string().transform((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not ${DURATION_HINT}` });
    return z.NEVER;
  }
  return seconds;
});

/**
 * How many approvals: a number (that many distinct people from any of the approver groups), or a map from group to
 * number (`{ security: 1, data-owners: 1 }`: one from each; a person counts toward one group only).
 */
const approvalsSchema = z.union([
  z.number().int().min(1).max(20),
  z.record(groupName, z.number().int().min(1).max(20)).refine((m) => Object.keys(m).length > 0, 'name at least one group'),
]);
const channelsSchema = z.array(z.string().regex(channelPattern, 'must look like slack:<channel id> or teams:<conversation id>'));

/** One stage of an ordered approval: stage n+1 is asked only after stage n has approved. */
const stageSchema = z
  .object({
    name: z.string().min(1).max(60).optional(),
    /** Defaults to the groups `approvals` names, when it is a map. */
    approvers: z.array(groupName).min(1, 'name at least one approver group').optional(),
    approvals: approvalsSchema.default(1),
    /** Where this stage's cards go; defaults to the rule's channels. */
    channels: channelsSchema.optional(),
  })
  .strict();

const requireFields = {
  /** Required unless `stages` is given (or `approvals` is a map, whose groups it then defaults to). */
  approvers: z.array(groupName).min(1, 'name at least one approver group').optional(),
  approvals: approvalsSchema.default(1),
  /** Ordered stages; replaces `approvers`/`approvals`. */
  stages: z.array(stageSchema).min(1).max(5).optional(),
  channels: channelsSchema.default([]),
  ttlSeconds: z.number().int().min(60).max(30 * 24 * 3600).optional(),
  reason: z.enum(REASON_MODES).default('on-deny'),
  /** How long the approval grant may be used after the decision (default 15 minutes). */
  grantTtlSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
  /** Bounds of standing approvals an approver may give ("this and the same for 15 minutes"); absent: none allowed. */
  standing: z.object({ maxFor: durationSchema, maxUses: z.number().int().min(1).max(10_000) }).strict().optional(),
  /** Never covered by a standing approval: every request is asked. */
  alwaysAsk: z.boolean().optional(),
  /** When to remind the approvers of a request still pending, counted from its submission. */
  remind: z.array(durationSchema).min(1).max(10).optional(),
  /** Who else is asked when a request is still pending after `after`. */
  escalate: z.object({ after: durationSchema, to: z.array(groupName).min(1), channels: channelsSchema.optional() }).strict().optional(),
  /** The requester is told this long before the request expires. */
  warnBeforeExpiry: durationSchema.optional(),
};

/** The request fields a budget can be kept per. */
export const BUDGET_KEYS = ['requester', 'action', 'resource', 'environment'] as const;
export type BudgetKey = (typeof BUDGET_KEYS)[number];

/** A require outcome written inline as a budget's `then`. */
const inlineRequireSchema = z.object({ outcome: z.literal('require').optional(), ...requireFields }).strict();

/**
 * A routine rule's budget: at most `count` requests approved by policy per `per` window (fixed windows aligned to `per`),
 * counted per the `by` fields (the whole rule when empty); past it, requests follow `then`: the name of a `require`
 * rule, or a require outcome written inline.
 */
const budgetSchema = z
  .object({
    count: z.number().int().min(1).max(1_000_000),
    per: durationSchema,
    by: z.array(z.enum(BUDGET_KEYS)).default([]).refine((b) => new Set(b).size === b.length, 'list each field once'),
    then: z.union([z.string().min(1), inlineRequireSchema]),
  })
  .strict();

/** An approve outcome's grant window and optional budget. */
const approveFields = { grantTtlSeconds: requireFields.grantTtlSeconds, budget: budgetSchema.optional() };

const ruleBase = { name: z.string().min(1), description: z.string().optional(), match: matchSchema.default({}) };
const ruleSchema = z.discriminatedUnion('outcome', [
  z.object({ ...ruleBase, outcome: z.literal('approve'), ...approveFields }).strict(),
  z.object({ ...ruleBase, outcome: z.literal('deny'), message: z.string().optional() }).strict(),
  z.object({ ...ruleBase, outcome: z.literal('require'), ...requireFields }).strict(),
]);
const defaultBase = { description: z.string().optional() };
const defaultSchema = z
  .discriminatedUnion('outcome', [
    z.object({ ...defaultBase, outcome: z.literal('approve'), ...approveFields }).strict(),
    z.object({ ...defaultBase, outcome: z.literal('deny'), message: z.string().optional() }).strict(),
    z.object({ ...defaultBase, outcome: z.literal('require'), ...requireFields }).strict(),
  ])
  .transform((d): RuleSpec => ({ ...d, name: 'default', match: {} }));

export const policySchema = z
  .object({
    version: z.literal(1),
    /** People: one record per human, linking every identity they have. */
    people: z.array(personSchema).default([]),
    /** How chat clickers are matched to people (see README, Separation of duties). */
    identity: z.object({ linkByEmail: z.boolean().default(true) }).strict().default({ linkByEmail: true }),
    /** The risk a request that states none is treated as, by rules that match on risk. */
    missingRisk: z.enum(RISKS).default('critical'),
    groups: z.record(groupName, z.array(personRef).min(1)),
    /** Context keys whose values are stored hashed, on top of the built-in secret-looking names. */
    sensitiveContextKeys: z.array(z.string().min(1)).default([]),
    rules: z.array(ruleSchema).default([]),
    default: defaultSchema,
  })
  .strict()
  .superRefine((p, ctx) => {
    for (const problem of semanticProblems(p)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  });

type PolicyDocument = Omit<z.output<typeof policySchema>, 'default'> & { default: RuleSpec };
type RequireSpec = Extract<RuleSpec, { outcome: 'require' }>;
type RequireFieldsSpec = Omit<RequireSpec, 'name' | 'description' | 'match' | 'outcome'>;

/** The stages a require outcome asks, in order: one implicit stage when it names no `stages`. */
function stagesOf(spec: RequireFieldsSpec): { approvers: string[]; approvals: number | Record<string, number>; channels?: string[]; name?: string }[] {
  if (spec.stages) return spec.stages.map((s) => ({ ...s, approvers: s.approvers ?? (typeof s.approvals === 'number' ? [] : Object.keys(s.approvals)) }));
  return [{ approvers: spec.approvers ?? (typeof spec.approvals === 'number' ? [] : Object.keys(spec.approvals)), approvals: spec.approvals }];
}

/**
 * Every group a rule may ask to decide: its approvers, every stage's, and those it escalates to (none for approve and
 * deny rules). Who counts as "an approver" somewhere (the console's roles) reads this, not `approvers` alone.
 */
export function approverGroupsOf(rule: RuleSpec): string[] {
  if (rule.outcome !== 'require') return [];
  return [...new Set([...stagesOf(rule).flatMap((s) => s.approvers), ...(rule.escalate?.to ?? [])])];
}

/** True when a rule's match has no condition at all: it matches every request. */
function matchesEverything(rule: RuleSpec): boolean {
  return Object.values(rule.match).every((v) => v === undefined);
}

/**
 * The policy's meaning problems, all of them (structure is zod's job): unknown groups, quorums larger than their
 * groups, budgets escalating to nothing, duplicate names, rules no request can reach.
 */
function semanticProblems(p: PolicyDocument): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const add = (path: (string | number)[], message: string) => problems.push({ path, message });
  const rules: RuleSpec[] = [...p.rules, p.default];
  const pathOf = (i: number): (string | number)[] => (i < p.rules.length ? ['rules', i] : ['default']);

  // Distinct people per group: declared people's identities fold into their person id, so a person listed twice
  // (by id and by email) is one approver, as the quorum counts them.
  const personOfIdentity = new Map<string, string>();
  for (const person of p.people) {
    for (const text of person.identities) {
      const parsed = parseIdentity(text);
      if (isIdentity(parsed)) personOfIdentity.set(formatIdentity({ ...parsed, scope: undefined }), person.id);
    }
  }
  const peopleIn = (group: string): Set<string> => {
    const out = new Set<string>();
    for (const ref of p.groups[group] ?? []) {
      const n = normalizeRef(ref);
      const parsed = PERSON_ID_PATTERN.test(n) ? undefined : parseIdentity(n);
      const key = parsed && isIdentity(parsed) ? formatIdentity({ ...parsed, scope: undefined }) : n;
      out.add(personOfIdentity.get(key) ?? key);
    }
    return out;
  };
  const checkGroups = (groups: string[], path: (string | number)[], what: string) => {
    groups.forEach((g, j) => {
      if (!p.groups[g]) add([...path, j], `unknown ${what} group "${g}"`);
    });
  };

  const checkRequire = (spec: RequireFieldsSpec, path: (string | number)[]) => {
    if (spec.stages && spec.approvers) add([...path, 'approvers'], 'give either `approvers` or `stages`, not both');
    if (spec.stages && typeof spec.approvals !== 'number') add([...path, 'approvals'], 'with `stages`, set `approvals` on each stage');
    if (!spec.stages && !spec.approvers && typeof spec.approvals === 'number') add([...path, 'approvers'], 'name at least one approver group (or give `stages`)');
    const stages = stagesOf(spec);
    stages.forEach((stage, s) => {
      const stagePath = spec.stages ? [...path, 'stages', s] : path;
      checkGroups(stage.approvers, [...stagePath, 'approvers'], 'approver');
      if (typeof stage.approvals === 'number') {
        const known = stage.approvers.filter((g) => p.groups[g]);
        if (known.length === stage.approvers.length) {
          const people = new Set(known.flatMap((g) => [...peopleIn(g)]));
          if (stage.approvals > people.size) add([...stagePath, 'approvals'], `needs ${stage.approvals} approvals but ${stage.approvers.join(', ')} ${stage.approvers.length > 1 ? 'have' : 'has'} only ${people.size} ${people.size === 1 ? 'person' : 'people'}`);
        }
      } else {
        const counts = stage.approvals;
        const named = Object.keys(counts);
        for (const [g, n] of Object.entries(counts)) {
          if (!p.groups[g]) add([...stagePath, 'approvals', g], `unknown approver group "${g}"`);
          else if (!stage.approvers.includes(g)) add([...stagePath, 'approvals', g], `group "${g}" is not among this rule's approvers`);
          else if (n > peopleIn(g).size) add([...stagePath, 'approvals', g], `needs ${n} from "${g}" but it has only ${peopleIn(g).size}`);
        }
        for (const g of stage.approvers) if (!named.includes(g)) add([...stagePath, 'approvers'], `group "${g}" has no count in \`approvals\`; list it there or drop it`);
        // One person counts toward one group only, so the groups together must hold enough distinct people.
        const total = named.reduce((sum, g) => sum + counts[g], 0);
        const people = new Set(named.filter((g) => p.groups[g]).flatMap((g) => [...peopleIn(g)]));
        if (named.every((g) => p.groups[g]) && total > people.size) add([...stagePath, 'approvals'], `needs ${total} distinct people but ${named.join(', ')} have only ${people.size} together`);
      }
    });
    if (spec.escalate) checkGroups(spec.escalate.to, [...path, 'escalate', 'to'], 'escalation');
    if (spec.standing && spec.alwaysAsk) add([...path, 'standing'], '`alwaysAsk` rules never accept standing approvals; drop one of the two');
    else if (spec.standing && (spec.stages || typeof spec.approvals !== 'number' || spec.approvals !== 1)) add([...path, 'standing'], 'standing approvals are only for rules that one approval decides (approvals: 1, no stages)');
    const ttl = spec.ttlSeconds;
    if (ttl !== undefined) {
      if (spec.warnBeforeExpiry !== undefined && spec.warnBeforeExpiry >= ttl) add([...path, 'warnBeforeExpiry'], `must be shorter than ttlSeconds (${ttl})`);
      if (spec.escalate && spec.escalate.after >= ttl) add([...path, 'escalate', 'after'], `must be shorter than ttlSeconds (${ttl}), or the request expires first`);
      spec.remind?.forEach((r, j) => {
        if (r >= ttl) add([...path, 'remind', j], `must be shorter than ttlSeconds (${ttl})`);
      });
    }
  };

  const claimed = new Map<string, string>();
  p.people.forEach((person, i) => {
    if (p.people.findIndex((o) => o.id === person.id) !== i) add(['people', i, 'id'], `person "${person.id}" is declared twice`);
    person.identities.forEach((text, j) => {
      const parsed = parseIdentity(text);
      if (!isIdentity(parsed)) return;
      const key = formatIdentity({ ...parsed, scope: undefined });
      const other = claimed.get(key);
      if (other && other !== person.id) add(['people', i, 'identities', j], `identity ${key} is claimed by two people: "${other}" and "${person.id}"`);
      claimed.set(key, person.id);
    });
  });

  const names = new Map<string, number>();
  p.rules.forEach((r, i) => {
    if (names.has(r.name)) add(['rules', i, 'name'], `duplicate rule name "${r.name}"`);
    else names.set(r.name, i);
  });
  const catchAll = p.rules.findIndex(matchesEverything);
  if (catchAll >= 0) {
    for (let j = catchAll + 1; j < p.rules.length; j++) add(['rules', j], `unreachable: rule "${p.rules[catchAll].name}" (rules.${catchAll}) matches every request before it`);
  }

  rules.forEach((rule, i) => {
    if (rule.outcome === 'require') checkRequire(rule, pathOf(i));
    if (rule.outcome === 'approve' && rule.budget) {
      const then = rule.budget.then;
      const thenPath = [...pathOf(i), 'budget', 'then'];
      if (typeof then === 'string') {
        const target = then === 'default' ? p.default : p.rules[names.get(then) ?? -1];
        if (!target) add(thenPath, `no rule is named "${then}"`);
        else if (target.outcome !== 'require') add(thenPath, `rule "${then}" is ${target.outcome === 'approve' ? 'an approve' : 'a deny'} rule; a budget escalates to a require rule`);
      } else {
        checkRequire(then, thenPath);
      }
    }
  });
  return problems;
}

export type RuleSpec = z.output<typeof ruleSchema>;

/**
 * One quorum of a stage: `count` distinct people from `group`, or from any of the stage's groups when `group` is null.
 */
export interface Quorum {
  group: string | null;
  count: number;
}

/** One stage of an ordered approval, snapshotted with its members (person ids). */
export interface RequirementStage {
  name?: string;
  approvers: string[];
  quorum: Quorum[];
  /** Person ids of every member of the stage's groups. */
  members: string[];
  /** Person ids per group the quorum names. */
  groupMembers: Record<string, string[]>;
  /** Where this stage's cards go. */
  channels: string[];
}

/** What a request must satisfy to be approved, snapshotted onto the request so a policy reload never changes it. */
export interface Requirement {
  /** Every approver group, across all stages. */
  approvers: string[];
  /**
   * Person ids of every member of those groups at submission time. `evaluate` fills it with the members as the policy
   * names them (normalised); intake replaces them with the directory's person ids (see {@link resolveRequirement}).
   */
  members: string[];
  /** Approvals needed in all (the sum over stages and groups). */
  approvals: number;
  channels: string[];
  reason: ReasonMode;
  /**
   * Present when the rule asks more than "n from any of these groups": per-group quorums and/or ordered stages.
   * Absent on a plain rule, whose snapshot stays exactly what it always was.
   */
  stages?: RequirementStage[];
  /** Bounds of standing approvals approvers may give; absent: none. */
  standing?: { maxForSeconds: number; maxUses: number };
  /** Never covered by a standing approval. */
  alwaysAsk?: boolean;
  /** Seconds after submission at which pending requests remind their approvers. */
  remindSeconds?: number[];
  /** Who else is asked when the request is still pending `afterSeconds` after submission. */
  escalate?: { afterSeconds: number; to: string[]; members: string[]; channels: string[] };
  /** Seconds before expiry at which the requester is warned. */
  warnBeforeExpirySeconds?: number;
  /** Set (ISO time) once the request was escalated: `escalate.to` and its members were then added to who may approve. */
  escalatedAt?: string;
  /**
   * Set when the request matched a routine rule whose budget was spent, so people decide instead: the budget, the
   * window it was spent in, and the require rule it escalated to (absent for an inline outcome).
   */
  budgetExhausted?: BudgetExhaustion;
}

/** A spent budget, as a request that escalated past it records it. */
export interface BudgetExhaustion {
  rule: string;
  count: number;
  perSeconds: number;
  windowStart: string;
  windowEnd: string;
  then: string | null;
}

/** The fixed window (aligned to multiples of `perSeconds` since the Unix epoch, UTC) that `at` falls in. */
export function budgetWindow(at: Date, perSeconds: number): { start: Date; end: Date } {
  const size = perSeconds * 1000;
  const start = Math.floor(at.getTime() / size) * size;
  return { start: new Date(start), end: new Date(start + size) };
}

/** A routine rule's budget, as evaluate hands it to intake. */
export interface BudgetDecision {
  count: number;
  perSeconds: number;
  by: BudgetKey[];
  /** SHA-256 (hex) of the `by` fields' values: the counter the request draws on, with the rule's name. */
  key: string;
  /** What the request becomes when the budget is spent: the `then` require outcome. */
  exhausted: PolicyDecision & { outcome: 'require' };
  /** The require rule `then` names, when it names one (absent for an inline outcome). */
  thenRule?: string;
}

export interface PolicyDecision {
  rule: string;
  outcome: 'approve' | 'deny' | 'require';
  requirement?: Requirement;
  ttlSeconds?: number;
  message?: string;
  /** Set when the request stated no risk and a rule matched on risk: the risk it was treated as. */
  assumedRisk?: Risk;
  /** The rule's grant window, when it sets one. */
  grantTtlSeconds?: number;
  /** Set on an approve outcome whose rule has a budget: intake draws on it, and escalates when it is spent. */
  budget?: BudgetDecision;
}

/** The fields of a request a rule can match on. */
export interface PolicySubject {
  action: string;
  resource: string;
  environment?: string;
  risk?: Risk;
  requester: { id: string; type: RequesterType; email?: string };
}

interface CompiledRule {
  spec: RuleSpec;
  /** Whether the rule's match looks at risk (then a missing risk is read as the policy's `missingRisk`). */
  matchesRisk: boolean;
  test(subject: PolicySubject): boolean;
}

export interface Policy {
  /** SHA-256 (hex) of `source`: the `policy_hash` every request records. */
  hash: string;
  /** The policy text exactly as read: what the hash covers and the evidence pack carries. */
  source: string;
  /** Group name → member references (person ids or identities in notation). */
  groups: Record<string, string[]>;
  /** People the policy file declares. */
  people: Person[];
  /** Every identity the policy names on its own (group members that are not person ids). */
  mentionedIdentities: Identity[];
  /** Match a clicker to the person who owns the email their platform verified (see README). */
  linkByEmail: boolean;
  missingRisk: Risk;
  rules: RuleSpec[];
  isSensitiveKey(key: string): boolean;
  evaluate(subject: PolicySubject): PolicyDecision;
}

const BUILTIN_SENSITIVE = /(pass(word|wd)?|secret|token|api[-_]?key|credential|private[-_]?key|authorization|cookie|session)/i;

function list(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : Array.isArray(v) ? v : [v];
}

function globTester(patterns: string[] | undefined): ((value: string | undefined) => boolean) | undefined {
  if (!patterns) return undefined;
  const m = picomatch(patterns, { dot: true, nocase: false });
  return (value) => value !== undefined && m(value);
}

function compileRule(spec: RuleSpec): CompiledRule {
  const action = globTester(list(spec.match.action));
  const resource = globTester(list(spec.match.resource));
  const environment = globTester(list(spec.match.environment));
  const requester = globTester(list(spec.match.requester));
  const risks = list(spec.match.risk as string | string[] | undefined);
  const types = list(spec.match.requesterType as string | string[] | undefined);
  return {
    spec,
    matchesRisk: Boolean(risks),
    test(s) {
      if (action && !action(s.action)) return false;
      if (resource && !resource(s.resource)) return false;
      if (environment && !environment(s.environment)) return false;
      if (risks && (!s.risk || !risks.includes(s.risk))) return false;
      if (types && !types.includes(s.requester.type)) return false;
      if (requester && !requester(s.requester.id) && !requester(s.requester.email)) return false;
      return true;
    },
  };
}

export type PolicyParseResult = { ok: true; policy: Policy } | { ok: false; problems: { path: string; message: string }[] };

/**
 * Validates a parsed policy document and compiles it. `sourceText` is the file's exact text: its SHA-256 is the policy
 * version recorded on every request.
 */
export function compilePolicy(document: unknown, sourceText: string): PolicyParseResult {
  const parsed = policySchema.safeParse(document);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message })),
    };
  }
  const p = parsed.data;
  const groups = Object.fromEntries(Object.entries(p.groups).map(([g, members]) => [g, members.map(normalizeRef)]));
  const mentioned = new Map<string, Identity>();
  for (const ref of Object.values(groups).flat()) {
    const parsed = PERSON_ID_PATTERN.test(ref) ? undefined : parseIdentity(ref);
    if (parsed && isIdentity(parsed)) mentioned.set(formatIdentity(parsed), parsed);
  }
  const people: Person[] = p.people.map((d) => ({
    id: d.id,
    name: d.name,
    source: 'policy',
    identities: d.identities.map((t) => ({ identity: parseIdentity(t) as Identity, verifiedBy: 'declared' as const })),
  }));
  const rulesAll: RuleSpec[] = [...p.rules, p.default];
  const compiled = rulesAll.map(compileRule);
  const extraSensitive = new Set(p.sensitiveContextKeys.map((k) => k.toLowerCase()));
  const hash = createHash('sha256').update(sourceText).digest('hex');

  return {
    ok: true,
    policy: {
      hash,
      source: sourceText,
      groups,
      people,
      mentionedIdentities: [...mentioned.values()],
      linkByEmail: p.identity.linkByEmail,
      missingRisk: p.missingRisk,
      rules: [...p.rules, p.default],
      isSensitiveKey: (key) => BUILTIN_SENSITIVE.test(key) || extraSensitive.has(key.toLowerCase()),
      evaluate(subject) {
        // A rule that matches on risk reads a missing risk as missingRisk (the highest, unless the policy says
        // otherwise): leaving risk out must never steer a request past the rules written for risky ones.
        const withRisk = subject.risk ? subject : { ...subject, risk: p.missingRisk };
        // The default rule matches everything, so the loop always finds one.
        let index = 0;
        while (!compiled[index].test(compiled[index].matchesRisk ? withRisk : subject)) index++;
        const rule = compiled[index].spec;
        // Recorded whenever a rule tried on the way read the assumed risk, so the trail says why it did or did not match.
        const assumed = !subject.risk && compiled.slice(0, index + 1).some((r) => r.matchesRisk) ? { assumedRisk: p.missingRisk } : {};
        if (rule.outcome === 'approve') {
          const decision: PolicyDecision = { rule: rule.name, outcome: 'approve', ...assumed, ...(rule.grantTtlSeconds ? { grantTtlSeconds: rule.grantTtlSeconds } : {}) };
          if (rule.budget) decision.budget = budgetDecision(rule.name, rule.budget, subject, assumed);
          return decision;
        }
        if (rule.outcome === 'deny') return { rule: rule.name, outcome: 'deny', message: rule.message, ...assumed };
        return requireDecision(rule.name, rule, assumed);
      },
    },
  };

  function requireDecision(name: string, rule: RequireFieldsSpec, assumed: { assumedRisk?: Risk }): PolicyDecision & { outcome: 'require' } {
    return {
      rule: name,
      outcome: 'require',
      ...assumed,
      ttlSeconds: rule.ttlSeconds,
      ...(rule.grantTtlSeconds ? { grantTtlSeconds: rule.grantTtlSeconds } : {}),
      requirement: requirementOf(rule, groups),
    };
  }

  function budgetDecision(name: string, budget: NonNullable<Extract<RuleSpec, { outcome: 'approve' }>['budget']>, subject: PolicySubject, assumed: { assumedRisk?: Risk }): BudgetDecision {
    const then = budget.then;
    const target = typeof then === 'string' ? (rulesAll.find((r) => r.name === then) as RequireSpec) : undefined;
    // The request keeps the name of the rule it matched; the trail says which outcome it escalated to.
    const exhausted = requireDecision(name, target ?? (then as RequireFieldsSpec), assumed);
    const values = budget.by.map((k) => (k === 'requester' ? subject.requester.id : (subject[k] ?? null)));
    return {
      count: budget.count,
      perSeconds: budget.per,
      by: budget.by,
      key: createHash('sha256').update(JSON.stringify(values)).digest('hex'),
      exhausted,
      ...(target ? { thenRule: target.name } : {}),
    };
  }
}

/** The snapshot of a require outcome, members as the policy names them (intake resolves them to person ids). */
function requirementOf(rule: RequireFieldsSpec, groups: Record<string, string[]>): Requirement {
  const membersOf = (gs: string[]) => [...new Set(gs.flatMap((g) => groups[g] ?? []))];
  const stages = stagesOf(rule);
  const approvers = [...new Set(stages.flatMap((s) => s.approvers))];
  const plain = !rule.stages && typeof rule.approvals === 'number';
  const requirement: Requirement = {
    approvers,
    members: membersOf(approvers),
    approvals: stages.reduce((sum, s) => sum + (typeof s.approvals === 'number' ? s.approvals : Object.values(s.approvals).reduce((a, b) => a + b, 0)), 0),
    channels: rule.channels,
    reason: rule.reason,
  };
  if (!plain) {
    requirement.stages = stages.map((s) => ({
      ...(s.name ? { name: s.name } : {}),
      approvers: s.approvers,
      quorum: typeof s.approvals === 'number' ? [{ group: null, count: s.approvals }] : Object.entries(s.approvals).map(([group, count]) => ({ group, count })),
      members: membersOf(s.approvers),
      groupMembers: typeof s.approvals === 'number' ? {} : Object.fromEntries(Object.keys(s.approvals).map((g) => [g, membersOf([g])])),
      channels: s.channels ?? rule.channels,
    }));
  }
  if (rule.standing && !rule.alwaysAsk) requirement.standing = { maxForSeconds: rule.standing.maxFor, maxUses: rule.standing.maxUses };
  if (rule.alwaysAsk) requirement.alwaysAsk = true;
  if (rule.remind) requirement.remindSeconds = [...rule.remind].sort((a, b) => a - b);
  if (rule.escalate) requirement.escalate = { afterSeconds: rule.escalate.after, to: rule.escalate.to, members: membersOf(rule.escalate.to), channels: rule.escalate.channels ?? rule.channels };
  if (rule.warnBeforeExpiry !== undefined) requirement.warnBeforeExpirySeconds = rule.warnBeforeExpiry;
  return requirement;
}

/**
 * The requirement with every member list (overall, per stage, per group, escalation) mapped by `resolve` from the
 * policy's member references to person ids: intake snapshots it so a later policy or directory change never moves a
 * pending request.
 */
export function resolveRequirement(requirement: Requirement, groups: Record<string, string[]>, resolve: (refs: string[]) => string[]): Requirement {
  const of = (gs: string[]) => resolve(gs.flatMap((g) => groups[g] ?? []));
  return {
    ...requirement,
    members: of(requirement.approvers),
    ...(requirement.stages
      ? { stages: requirement.stages.map((s) => ({ ...s, members: of(s.approvers), groupMembers: Object.fromEntries(Object.keys(s.groupMembers).map((g) => [g, of([g])])) })) }
      : {}),
    ...(requirement.escalate ? { escalate: { ...requirement.escalate, members: of(requirement.escalate.to) } } : {}),
  };
}

/** What `checkPolicy` answers: the compiled policy when there is no problem, and every problem found. */
export interface PolicyCheck {
  policy?: Policy;
  problems: { path: string; message: string }[];
}

/**
 * Validates a parsed policy document (YAML/JSON already parsed) and lists every problem at once, structural and
 * semantic: what `cli policy check` and a reload report. Semantic checks run once the structure is valid.
 */
export function checkPolicy(document: unknown, sourceText = JSON.stringify(document ?? null)): PolicyCheck {
  const result = compilePolicy(document, sourceText);
  return result.ok ? { policy: result.policy, problems: [] } : { problems: result.problems };
}

/** A member reference as written (`Alice@Example.com`, `slack:U1`, `teams:GUID`, `carol`), normalised. */
export function normalizeRef(ref: string): string {
  const r = ref.trim();
  if (PERSON_ID_PATTERN.test(r)) return r;
  const parsed = parseIdentity(r);
  return isIdentity(parsed) ? formatIdentity(parsed) : r;
}
