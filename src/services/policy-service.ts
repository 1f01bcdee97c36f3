/**
 * The policy in force: the compiled policy every decision reads, and its history. Each version put in force is stored
 * with its text and hash, and a change of version is an audit event (`policy.in_force`), so an auditor can read the
 * exact rules any past decision was made under (the evidence pack carries them).
 *
 * A reload (SIGHUP, or the file changing) checks the new text first: a bad one keeps the policy in force, says why in
 * the log and the trail (`policy.reload_refused`, with every problem), and a good one is put in force like at start-up.
 * Pending requests are not touched: each carries the requirement snapshotted when it was matched, which is what its
 * votes are counted against (see RequestStore's `requirement`), so a reload never moves a request already asked.
 */
import { SYSTEM_ACTOR } from '../domain/audit-event';
import type { Policy, PolicyCheck } from '../domain/policy';
import type { PolicyStore } from '../store/policy-store';
import type { AuditService } from './audit-service';

/** What a reload did. */
export type PolicyReloadResult =
  | { status: 'activated'; hash: string; previousHash: string | null }
  | { status: 'unchanged'; hash: string }
  /** `repeated`: the same bad text was already refused (and recorded) by this node; nothing new was recorded. */
  | { status: 'refused'; hash: string | null; problems: string[]; repeated: boolean };

/** The version in force, as `GET /v1/policy` shows it. */
export interface PolicyInForce {
  policy: Policy;
  /** When this version was put in force (the stored record's time when it is the latest one, else this node's). */
  activatedAt: Date;
  /** What put it in force: `start`, `reload`, `sighup`. */
  source: string;
}

export interface PolicyService {
  /** The policy in force on this node. */
  current(): Policy;
  /**
   * Puts `policy` in force on this node and records it (text, hash, when, why) unless it already is the version in
   * force; `source` says what made it current (`start`, `reload`).
   */
  activate(policy: Policy, source: string): Promise<{ changed: boolean; previousHash: string | null }>;
  /**
   * Checks `text` (the policy file's content, or `readError` when it could not be read) and puts it in force when it
   * is valid and differs from the version in force; refuses it otherwise, recording every problem once per text.
   */
  reload(read: { text: string } | { readError: string }, source: string): Promise<PolicyReloadResult>;
  /** The version in force with when and why it was put in force. */
  inForce(): Promise<PolicyInForce>;
}

export function createPolicyService(deps: {
  initial: Policy;
  policies: Pick<PolicyStore, 'recordInForce' | 'inForceBetween'>;
  audit: Pick<AuditService, 'append'>;
  /** Checks policy text (src/config/load-policy.ts `checkPolicyText`): the compiled policy, or every problem. */
  check: (text: string) => PolicyCheck;
  /** Hashes a text the way a policy's hash is made, for a refused text (which compiles to no policy). */
  hashText: (text: string) => string;
  /** Names the policy file in the trail. */
  file: string;
  clock?: () => Date;
}): PolicyService {
  const clock = deps.clock ?? (() => new Date());
  let current = deps.initial;
  let activatedAt = clock();
  let activatedBy = 'start';
  /** The last text this node refused, so a watcher polling a bad file records it once, not on every poll. */
  let lastRefused: string | null = null;

  async function activate(policy: Policy, source: string) {
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
    if (recorded.changed || policy.hash !== current.hash) {
      activatedAt = at;
      activatedBy = source;
    }
    current = policy;
    lastRefused = null;
    return recorded;
  }

  return {
    current: () => current,
    activate,

    async reload(read, source) {
      const key = 'text' in read ? `text:${read.text}` : `error:${read.readError}`;
      const hash = 'text' in read ? deps.hashText(read.text) : null;
      const checked: PolicyCheck = 'text' in read ? deps.check(read.text) : { problems: [{ path: '(file)', message: `cannot read: ${read.readError}` }] };
      if (!checked.policy) {
        const problems = checked.problems.map((p) => `${p.path}: ${p.message}`);
        const repeated = lastRefused === key;
        if (!repeated) {
          await deps.audit.append([
            {
              type: 'policy.reload_refused',
              requestId: null,
              actor: SYSTEM_ACTOR,
              channel: 'system',
              at: clock(),
              data: { file: deps.file, source, hash, problems, keptHash: current.hash },
            },
          ]);
          lastRefused = key;
        }
        return { status: 'refused', hash, problems, repeated };
      }
      if (checked.policy.hash === current.hash) {
        lastRefused = null;
        return { status: 'unchanged', hash: current.hash };
      }
      const { previousHash } = await activate(checked.policy, source);
      return { status: 'activated', hash: checked.policy.hash, previousHash };
    },

    async inForce() {
      const now = clock();
      const rows = await deps.policies.inForceBetween(now, now);
      const latest = rows[rows.length - 1];
      // Another node may have put another file in force since; then this node's own activation is what applies here.
      if (latest && latest.hash === current.hash) return { policy: current, activatedAt: latest.at, source: latest.source };
      return { policy: current, activatedAt, source: activatedBy };
    },
  };
}
