/**
 * Budgeted routine rules through the real API: exact under concurrency, per `by` key, kept across restarts, an
 * idempotent replay draws nothing, and past the budget the request escalates to the `then` outcome with a card and an
 * audit event that say the budget was exhausted.
 */
import { startSlackTestApp, DATA_CHANNEL, type SlackTestApp } from '../slack/slack-test-app';
import { startTestApp } from '../support/start-app';
import { createTestDatabase } from '../support/test-database';

const POLICY = `
version: 1
groups:
  approvers: [alice@example.com, bob@example.com, carol@example.com, "slack:U0000ERIN"]
rules:
  - name: budgeted-reads
    match: { action: "table.read" }
    outcome: approve
    # A long window keeps the test clear of a window edge.
    budget: { count: 20, per: 30d, by: [requester], then: reads-past-budget }
  - name: shared-lists
    match: { action: "table.list" }
    outcome: approve
    budget: { count: 2, per: 30d, then: { approvers: [approvers], approvals: 2, channels: ["slack:${DATA_CHANNEL}"] } }
  - name: free-describes
    match: { action: "table.describe" }
    outcome: approve
  - name: reads-past-budget
    match: { action: "reads.escalated" }
    outcome: require
    approvers: [approvers]
    channels: ["slack:${DATA_CHANNEL}"]
default: { outcome: deny }
`;

const read = (requester: string, extra: Record<string, unknown> = {}) => ({
  action: 'table.read', resource: 'warehouse://dev/t1', requester: { id: requester, type: 'agent' }, environment: 'dev', ...extra,
});

let s: SlackTestApp;
beforeAll(async () => {
  s = await startSlackTestApp({ policyYaml: POLICY, env: { INTAKE_RATE_LIMIT_PER_MINUTE: '100000' } });
});
afterAll(async () => {
  await s?.close();
});

describe('budgeted routine rules', () => {
  it('approves exactly the budget out of 50 simultaneous requests, escalating the rest', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => s.t.submit(read('burst-agent'))));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    const approved = answers.filter((a) => a.body.status === 'approved');
    const escalated = answers.filter((a) => a.body.status === 'pending');
    expect(approved).toHaveLength(20);
    expect(escalated).toHaveLength(30);
    expect(escalated.every((a) => a.body.budgetExhausted === true && a.body.rule === 'budgeted-reads')).toBe(true);
    expect(approved.every((a) => a.body.budgetExhausted === undefined)).toBe(true);
    // The counter agrees with the answers.
    const rows = await s.t.db.$queryRawUnsafe<{ used: number }[]>(`SELECT used FROM policy_budget WHERE rule = 'budgeted-reads'`);
    expect(rows).toEqual([{ used: 20 }]);

    // An escalated request carries the `then` rule's requirement and says why, in the API and the trail.
    const one = await s.request(escalated[0].body.id);
    expect(one.policy).toMatchObject({ rule: 'budgeted-reads', outcome: 'require' });
    expect(one.policy.requirement).toMatchObject({ approvers: ['approvers'], approvals: 1, budgetExhausted: { rule: 'budgeted-reads', count: 20, perSeconds: 30 * 86400, then: 'reads-past-budget' } });
    const events = await s.audit(escalated[0].body.id);
    const exhausted = events.find((e: any) => e.type === 'policy.budget_exhausted');
    expect(exhausted?.data).toMatchObject({ rule: 'budgeted-reads', count: 20, per: '30d', by: ['requester'], escalatedTo: 'reads-past-budget' });
    // An approved one records which unit of the budget it used.
    const approvedEvents = await s.audit(approved[0].body.id);
    const used = approvedEvents.find((e: any) => e.type === 'policy.matched').data.budget;
    expect(used).toMatchObject({ count: 20, per: '30d' });
    expect(used.used).toBeGreaterThanOrEqual(1);
    expect(used.used).toBeLessThanOrEqual(20);

    // The card says the budget was exhausted.
    const card = await s.card(escalated[0].body.id);
    expect(JSON.stringify(card.history[0].blocks)).toContain('Budget exhausted: rule budgeted-reads approves at most 20 per 30d; escalated to reads-past-budget');
  });

  it('keeps one budget per `by` key: another requester still has its own', async () => {
    const other = await s.t.submit(read('other-agent'));
    expect(other.body).toMatchObject({ status: 'approved', rule: 'budgeted-reads' });
    const rows = await s.t.db.$queryRawUnsafe<{ used: number }[]>(`SELECT used FROM policy_budget WHERE rule = 'budgeted-reads' ORDER BY used`);
    expect(rows.map((r) => r.used)).toEqual([1, 20]);
  });

  it('escalates to an inline require outcome, and a replay with the same Idempotency-Key draws nothing', async () => {
    const list = { ...read('lister'), action: 'table.list' };
    const first = await s.t.submit(list, { headers: { 'idempotency-key': 'list-1' } });
    const replayed = await s.t.submit(list, { headers: { 'idempotency-key': 'list-1' } });
    expect(replayed.body.id).toBe(first.body.id);
    expect(first.body.status).toBe('approved');
    const second = await s.t.submit(list);
    expect(second.body.status).toBe('approved');
    const third = await s.t.submit(list, { headers: { 'idempotency-key': 'list-3' } });
    expect(third.body).toMatchObject({ status: 'pending', budgetExhausted: true });
    // A replay answers as the original did.
    expect((await s.t.submit(list, { headers: { 'idempotency-key': 'list-3' } })).body).toMatchObject({ id: third.body.id, status: 'pending', budgetExhausted: true });
    const detail = await s.request(third.body.id);
    expect(detail.policy.requirement).toMatchObject({ approvals: 2, budgetExhausted: { then: null } });
    expect(detail.approvals.required).toBe(2);
    const card = await s.card(third.body.id);
    const text = JSON.stringify(card.history[0].blocks);
    expect(text).toContain('Budget exhausted: rule shared-lists approves at most 2 per 30d');
    expect(text).not.toContain('escalated to');
  });

  it('costs a routine rule without a budget nothing: no counter is touched', async () => {
    const before = await s.t.db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM policy_budget`);
    const res = await s.t.submit({ ...read('describer'), action: 'table.describe' });
    expect(res.body).toMatchObject({ status: 'approved', rule: 'free-describes' });
    const after = await s.t.db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM policy_budget`);
    expect(after).toEqual(before);
    const matched = (await s.audit(res.body.id)).find((e: any) => e.type === 'policy.matched');
    expect(matched.data.budget).toBeUndefined();
  });

  it('prunes the counters of closed windows when reconciling, keeping the open ones', async () => {
    await s.t.db.$executeRawUnsafe(`INSERT INTO policy_budget (rule, key, window_start, window_end, used) VALUES ('budgeted-reads', 'old', now() - interval '2 hours', now() - interval '1 hour', 7)`);
    const report = await s.t.app.reconcile();
    expect(report.pruned).toBe(1);
    const keys = await s.t.db.$queryRawUnsafe<{ key: string }[]>(`SELECT key FROM policy_budget`);
    expect(keys.map((k) => k.key)).not.toContain('old');
    expect(keys.length).toBeGreaterThan(0);
  });
});

describe('budgets across restarts', () => {
  it('keeps counting after the service restarts (the counter is in PostgreSQL)', async () => {
    const database = await createTestDatabase();
    const policyYaml = POLICY.replace('count: 20, per: 30d', 'count: 2, per: 30d');
    const first = await startTestApp({ policyYaml, database, keepDatabase: true });
    try {
      expect((await first.submit(read('restart-agent'))).body.status).toBe('approved');
      expect((await first.submit(read('restart-agent'))).body.status).toBe('approved');
    } finally {
      await first.close();
    }
    const second = await startTestApp({ policyYaml, database });
    try {
      expect((await second.submit(read('restart-agent'))).body).toMatchObject({ status: 'pending', budgetExhausted: true });
    } finally {
      await second.close();
    }
  });
});
