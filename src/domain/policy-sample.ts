/**
 * Trying the live policy on a sample request (`POST /v1/policy/evaluate`, the console's policy page): the rule that
 * would match, its outcome, and who could approve — the approver groups' members as the directory knows them now,
 * minus the people the sample names as its parties (self-approval). Nothing is submitted, stored or notified.
 */
import { identitiesOf, normalizeEmail, type PersonIdentity } from './identity';
import type { Directory } from './people';
import type { Policy, PolicyDecision, RequesterType, Risk } from './policy';

export interface PolicySample {
  action: string;
  resource: string;
  requester: { id: string; type: RequesterType; email?: string };
  onBehalfOf?: PersonIdentity;
  environment?: string;
  risk?: Risk;
  apiKeyOwner?: string;
}

export interface PolicyEvaluation {
  policy: { hash: string; rules: number };
  rule: string;
  ruleIndex: number;
  outcome: PolicyDecision['outcome'];
  message: string | null;
  assumedRisk: Risk | null;
  ttlSeconds: number | null;
  grantTtlSeconds: number | null;
  requirement: {
    approvers: string[];
    approvals: number;
    reason: NonNullable<PolicyDecision['requirement']>['reason'];
    channels: string[];
    members: { id: string; name: string }[];
    excluded: { id: string; name: string }[];
  } | null;
}

/** Evaluates `sample` against `policy` with the people of `directory`. Pure. */
export function evaluatePolicySample(policy: Policy, directory: Directory, sample: PolicySample): PolicyEvaluation {
  const requester = { ...sample.requester, email: normalizeEmail(sample.requester.email) };
  const decision = policy.evaluate({ action: sample.action, resource: sample.resource, environment: sample.environment, risk: sample.risk, requester });
  const person = (id: string) => ({ id, name: directory.person(id)?.name ?? id });
  let requirement: PolicyEvaluation['requirement'] = null;
  if (decision.requirement) {
    const r = decision.requirement;
    const members = directory.members(r.approvers.flatMap((g) => policy.groups[g] ?? []));
    const parties = new Set([
      ...identitiesOf(requester).map((i) => directory.personIdOf(i)),
      ...identitiesOf(sample.onBehalfOf).map((i) => directory.personIdOf(i)),
      ...(sample.apiKeyOwner ? [directory.resolveRef(sample.apiKeyOwner)?.id ?? sample.apiKeyOwner] : []),
    ]);
    requirement = {
      approvers: r.approvers, approvals: r.approvals, reason: r.reason, channels: r.channels,
      members: members.filter((m) => !parties.has(m)).map(person),
      excluded: members.filter((m) => parties.has(m)).map(person),
    };
  }
  return {
    policy: { hash: policy.hash, rules: policy.rules.length },
    rule: decision.rule,
    ruleIndex: policy.rules.findIndex((r) => r.name === decision.rule),
    outcome: decision.outcome,
    message: decision.message ?? null,
    assumedRisk: decision.assumedRisk ?? null,
    ttlSeconds: decision.ttlSeconds ?? null,
    grantTtlSeconds: decision.grantTtlSeconds ?? null,
    requirement,
  };
}
