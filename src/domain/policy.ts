/**
 * Policy: which actions are routine, which are forbidden, and who must approve the rest.
 * Pure: parsing text into a policy happens in src/config/load-policy.ts; this module validates and evaluates.
 */
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import { z } from 'zod';
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

const requireFields = {
  approvers: z.array(z.string().min(1)).min(1, 'name at least one approver group'),
  approvals: z.number().int().min(1).max(20).default(1),
  channels: z
    .array(z.string().regex(channelPattern, 'must look like slack:<channel id> or teams:<conversation id>'))
    .default([]),
  ttlSeconds: z.number().int().min(60).max(30 * 24 * 3600).optional(),
  reason: z.enum(REASON_MODES).default('on-deny'),
  /** How long the approval grant may be used after the decision (default 15 minutes). */
  grantTtlSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
};
/** An approve outcome's grant window. */
const approveFields = { grantTtlSeconds: requireFields.grantTtlSeconds };

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
    groups: z.record(z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'group names use letters, digits, _ . -'), z.array(personRef).min(1)),
    /** Context keys whose values are stored hashed, on top of the built-in secret-looking names. */
    sensitiveContextKeys: z.array(z.string().min(1)).default([]),
    rules: z.array(ruleSchema).default([]),
    default: defaultSchema,
  })
  .strict()
  .superRefine((p, ctx) => {
    const rules: RuleSpec[] = [...p.rules, p.default];
    rules.forEach((rule, i) => {
      if (rule.outcome !== 'require') return;
      for (const g of rule.approvers) {
        if (!p.groups[g]) {
          ctx.addIssue({
            code: 'custom',
            path: i < p.rules.length ? ['rules', i, 'approvers'] : ['default', 'approvers'],
            message: `unknown approver group "${g}"`,
          });
        }
      }
    });
    const claimed = new Map<string, string>();
    p.people.forEach((person, i) => {
      if (p.people.findIndex((o) => o.id === person.id) !== i) ctx.addIssue({ code: 'custom', path: ['people', i, 'id'], message: `person "${person.id}" is declared twice` });
      person.identities.forEach((text, j) => {
        const parsed = parseIdentity(text);
        if (!isIdentity(parsed)) return;
        const key = formatIdentity({ ...parsed, scope: undefined });
        const other = claimed.get(key);
        if (other && other !== person.id) ctx.addIssue({ code: 'custom', path: ['people', i, 'identities', j], message: `identity ${key} is claimed by two people: "${other}" and "${person.id}"` });
        claimed.set(key, person.id);
      });
    });
    const seen = new Set<string>();
    p.rules.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name "${r.name}"` });
      seen.add(r.name);
    });
  });

export type RuleSpec = z.output<typeof ruleSchema>;

/** What a request must satisfy to be approved, snapshotted onto the request so a policy reload never changes it. */
export interface Requirement {
  approvers: string[];
  /**
   * Person ids of every member of those groups at submission time. `evaluate` fills it with the members as the policy
   * names them (normalised); intake replaces them with the directory's person ids (see Directory.members).
   */
  members: string[];
  approvals: number;
  channels: string[];
  reason: ReasonMode;
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
  const compiled = [...p.rules, p.default].map(compileRule);
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
        if (rule.outcome === 'approve') return { rule: rule.name, outcome: 'approve', ...assumed, ...(rule.grantTtlSeconds ? { grantTtlSeconds: rule.grantTtlSeconds } : {}) };
        if (rule.outcome === 'deny') return { rule: rule.name, outcome: 'deny', message: rule.message, ...assumed };
        const members = [...new Set(rule.approvers.flatMap((g) => groups[g] ?? []))];
        return {
          rule: rule.name,
          outcome: 'require',
          ...assumed,
          ttlSeconds: rule.ttlSeconds,
          ...(rule.grantTtlSeconds ? { grantTtlSeconds: rule.grantTtlSeconds } : {}),
          requirement: {
            approvers: rule.approvers,
            members,
            approvals: rule.approvals,
            channels: rule.channels,
            reason: rule.reason,
          },
        };
      },
    },
  };
}

/** A member reference as written (`Alice@Example.com`, `slack:U1`, `teams:GUID`, `carol`), normalised. */
export function normalizeRef(ref: string): string {
  const r = ref.trim();
  if (PERSON_ID_PATTERN.test(r)) return r;
  const parsed = parseIdentity(r);
  return isIdentity(parsed) ? formatIdentity(parsed) : r;
}
