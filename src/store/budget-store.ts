/**
 * Routine-rule budgets: one counter row per (rule, budget key, window). Drawing on a budget is a single guarded upsert,
 * so 50 simultaneous requests against a budget of 20 approve exactly 20 whichever API node they reach, and the count
 * survives restarts (it is PostgreSQL, not memory).
 */
import { runQuery, type SqlPool } from './database';

/** One budget counter: the rule, the key of its `by` values, and the start of the fixed window. */
export interface BudgetCounter {
  rule: string;
  key: string;
  windowStart: Date;
  windowEnd: Date;
}

/** Port of the budget counters. */
export interface BudgetStore {
  /**
   * Takes one unit of the counter when fewer than `limit` are used.
   * @returns the units used after taking this one, or null when the budget is spent (nothing changes).
   */
  draw(counter: BudgetCounter, limit: number): Promise<number | null>;
  /** Gives one unit back (a request that drew and then was not written: an idempotent replay, a failed insert). */
  giveBack(counter: BudgetCounter): Promise<void>;
  /** Deletes counters of windows that closed before `before`; returns how many. */
  prune(before: Date): Promise<number>;
}

// ON CONFLICT DO UPDATE locks the row and re-checks `used < limit` against its latest committed version, so concurrent
// draws serialize on the row and the last unit goes to exactly one of them. A spent budget updates nothing and returns
// no row. A limit of 0 is not possible (the policy requires count >= 1), so the first insert is always within budget.
const DRAW_SQL = `INSERT INTO policy_budget (rule, key, window_start, window_end, used) VALUES ($1, $2, $3::timestamptz, $5::timestamptz, 1)
  ON CONFLICT (rule, key, window_start) DO UPDATE SET used = policy_budget.used + 1 WHERE policy_budget.used < $4::int
  RETURNING used`;
const GIVE_BACK_SQL = `UPDATE policy_budget SET used = used - 1 WHERE rule = $1 AND key = $2 AND window_start = $3::timestamptz AND used > 0`;

export function createBudgetStore(deps: { pool: SqlPool }): BudgetStore {
  return {
    async draw(c, limit) {
      const { rows } = await runQuery<{ used: number }>(deps.pool, { name: 'cs_budget_draw', text: DRAW_SQL, values: [c.rule, c.key, c.windowStart, limit, c.windowEnd] });
      return rows[0]?.used ?? null;
    },
    async giveBack(c) {
      await runQuery(deps.pool, { name: 'cs_budget_give_back', text: GIVE_BACK_SQL, values: [c.rule, c.key, c.windowStart] });
    },
    async prune(before) {
      const res = await runQuery(deps.pool, 'DELETE FROM policy_budget WHERE window_end < $1::timestamptz', [before]);
      return res.rowCount ?? 0;
    },
  };
}
