/**
 * Policy: which actions are routine, which are forbidden, and who must approve the rest.
 * Pure: parsing text into a policy happens in src/config/load-policy.ts; this module validates and evaluates.
 */
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import { z } from 'zod';
import { normalizeMemberKey } from './identity';

export const RISKS = ['low', 'medium', 'high', 'critical'] as const;
export type Risk = (typeof RISKS)[number];
export const REQUESTER_TYPES = ['agent', 'service', 'human'] as const;
export type RequesterType = (typeof REQUESTER_TYPES)[number];
export const REASON_MODES = ['none', 'on-deny', 'always'] as const;
export type ReasonMode = (typeof REASON_MODES)[number];

const stringOrList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const memberPattern = /^(slack:[A-Z0-9]+|teams:[0-9a-zA-Z-]+|[^\s@:]+@[^\s@]+\.[^\s@]+)$/;
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
};

const ruleBase = { name: z.string().min(1), description: z.string().optional(), match: matchSchema.default({}) };
const ruleSchema = z.discriminatedUnion('outcome', [
  z.object({ ...ruleBase, outcome: z.literal('approve') }).strict(),
  z.object({ ...ruleBase, outcome: z.literal('deny'), message: z.string().optional() }).strict(),
  z.object({ ...ruleBase, outcome: z.literal('require'), ...requireFields }).strict(),
]);
const defaultBase = { description: z.string().optional() };
const defaultSchema = z
  .discriminatedUnion('outcome', [
    z.object({ ...defaultBase, outcome: z.literal('approve') }).strict(),
    z.object({ ...defaultBase, outcome: z.literal('deny'), message: z.string().optional() }).strict(),
    z.object({ ...defaultBase, outcome: z.literal('require'), ...requireFields }).strict(),
  ])
  .transform((d): RuleSpec => ({ ...d, name: 'default', match: {} }));

export const policySchema = z
  .object({
    version: z.literal(1),
    groups: z.record(
      z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'group names use letters, digits, _ . -'),
      z.array(z.string().regex(memberPattern, 'members are emails, slack:<user id> or teams:<aad object id>')).min(1),
    ),
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
  /** Identity keys of every member of those groups at submission time. */
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
  test(subject: PolicySubject): boolean;
}

export interface Policy {
  hash: string;
  groups: Record<string, string[]>;
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
  const groups = Object.fromEntries(Object.entries(p.groups).map(([g, members]) => [g, members.map(normalizeMemberKey)]));
  const compiled = [...p.rules, p.default].map(compileRule);
  const extraSensitive = new Set(p.sensitiveContextKeys.map((k) => k.toLowerCase()));
  const hash = createHash('sha256').update(sourceText).digest('hex');

  return {
    ok: true,
    policy: {
      hash,
      groups,
      rules: [...p.rules, p.default],
      isSensitiveKey: (key) => BUILTIN_SENSITIVE.test(key) || extraSensitive.has(key.toLowerCase()),
      evaluate(subject) {
        // The default rule matches everything, so find() always returns.
        const rule = compiled.find((r) => r.test(subject))!.spec;
        if (rule.outcome === 'approve') return { rule: rule.name, outcome: 'approve' };
        if (rule.outcome === 'deny') return { rule: rule.name, outcome: 'deny', message: rule.message };
        const members = [...new Set(rule.approvers.flatMap((g) => groups[g] ?? []))];
        return {
          rule: rule.name,
          outcome: 'require',
          ttlSeconds: rule.ttlSeconds,
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
