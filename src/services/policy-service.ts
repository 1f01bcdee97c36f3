/**
 * The policy in force: the compiled policy every decision reads, and its history. Each version put in force is stored
 * with its text and hash, and a change of version is an audit event (`policy.in_force`), so an auditor can read the
 * exact rules any past decision was made under (the evidence pack carries them).
 */
import { SYSTEM_ACTOR } from '../domain/audit-event';
import type { Policy } from '../domain/policy';
import type { PolicyStore } from '../store/policy-store';

export interface PolicyService {
  /** The policy in force on this node. */
  current(): Policy;
  /**
   * Puts `policy` in force on this node and records it (text, hash, when, why) unless it already is the version in
   * force; `source` says what made it current (`start`, `reload`).
   */
  activate(policy: Policy, source: string): Promise<{ changed: boolean; previousHash: string | null }>;
}

export function createPolicyService(deps: {
  initial: Policy;
  policies: Pick<PolicyStore, 'recordInForce'>;
  /** Names the policy file in the trail. */
  file: string;
  clock?: () => Date;
}): PolicyService {
  const clock = deps.clock ?? (() => new Date());
  let current = deps.initial;
  return {
    current: () => current,

    async activate(policy, source) {
      const at = clock();
      const recorded = await deps.policies.recordInForce({ hash: policy.hash, text: policy.source, at, source }, (previousHash) => [
        {
          type: 'policy.in_force',
          requestId: null,
          actor: SYSTEM_ACTOR,
          channel: 'system',
          at,
          data: { hash: policy.hash, previousHash, file: deps.file, source, rules: policy.rules.map((r) => r.name) },
        },
      ]);
      current = policy;
      return recorded;
    },
  };
}
