/**
 * Escalation (a rule's `escalate: { after, to, channels }`): a request still pending `after` its submission is also
 * asked of the `to` groups. Their members (snapshotted at intake, like every approver) are added to who may approve,
 * in the plain pool and in every stage's pool; per-group quorum slots stay with their groups. Pure.
 */
import type { Requirement } from './policy';

/** The requirement once escalated at `at`, or null when it does not escalate or already did. */
export function escalateRequirement(requirement: Requirement | null, at: Date): Requirement | null {
  const e = requirement?.escalate;
  if (!requirement || !e || requirement.escalatedAt) return null;
  const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
  return {
    ...requirement,
    approvers: union(requirement.approvers, e.to),
    members: union(requirement.members, e.members),
    ...(requirement.stages ? { stages: requirement.stages.map((s) => ({ ...s, approvers: union(s.approvers, e.to), members: union(s.members, e.members) })) } : {}),
    escalatedAt: at.toISOString(),
  };
}
