/**
 * Standing approvals through the real API: granted with an approval within the rule's bounds, drawn on by matching
 * later requests (each approved at once with its own audit event and a reference to it), exact under concurrency,
 * never for an `alwaysAsk` rule or a party of the request, listed, and revocable by an approver of the rule.
 */
import { startTestApp, type TestApp } from '../support/start-app';
import { createTestDatabase } from '../support/test-database';

const POLICY = `
version: 1
people:
  - { id: mallory, name: Mallory Outsider, identities: [mallory@example.com] }
groups:
  approvers: [alice@example.com, bob@example.com, carol@example.com]
rules:
  - name: deploys
    match: { action: "deploy.*" }
    outcome: require
    approvers: [approvers]
    reason: none
    standing: { maxFor: 15m, maxUses: 10 }
  - name: iam-always
    match: { action: "iam.*" }
    outcome: require
    approvers: [approvers]
    reason: none
    alwaysAsk: true
  - name: two-person
    match: { action: dataset.export }
    outcome: require
    approvers: [approvers]
    approvals: 2
    reason: none
default: { outcome: deny }
`;

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ policyYaml: POLICY, env: { INTAKE_RATE_LIMIT_PER_MINUTE: '100000' } });
});
afterAll(async () => {
  await t?.close();
});

const deploy = (overrides: Record<string, unknown> = {}) => ({
  action: 'deploy.service', resource: 'svc://payments', requester: { id: 'deploy-bot', type: 'agent' }, environment: 'production', ...overrides,
});
const vote = (id: string, email: string, body: Record<string, unknown> = {}) =>
  t.call('POST', `/v1/requests/${id}/decisions`, { key: t.keys.approver, body: { approver: { email }, decision: 'approve', ...body } });
const auditOf = async (id: string) => (await t.call('GET', `/v1/audit?requestId=${id}&limit=200`)).body.items as any[];

async function grant(resource: string, uses: number, forText = '15m'): Promise<string> {
  const first = await t.submit(deploy({ resource }));
  expect(first.body.status).toBe('pending');
  const res = await vote(first.body.id, 'alice@example.com', { standing: { for: forText, uses } });
  expect(res.status).toBe(201);
  expect(res.body).toMatchObject({ status: 'approved', standingApproval: { uses } });
  return res.body.standingApproval.id as string;
}

describe('standing approvals', () => {
  it('approves the next matching requests at once, each with its own audit event, until its uses run out', async () => {
    const id = await grant('svc://payments', 2);
    const next = await t.submit(deploy());
    expect(next.body).toMatchObject({ status: 'approved', rule: 'deploys' });
    const detail = (await t.call('GET', `/v1/requests/${next.body.id}`)).body;
    expect(detail).toMatchObject({ status: 'approved', decidedBy: 'alice@example.com', votes: [], standingApprovalId: id });
    expect(detail.decisionReason).toContain(id);
    expect(typeof detail.grant).toBe('string');
    const events = await auditOf(next.body.id);
    expect(events.find((e) => e.type === 'standing_approval.used')?.data).toMatchObject({ standingApprovalId: id, grantedBy: 'alice@example.com', usesLeft: 1 });
    expect(events.find((e) => e.type === 'request.decided')?.data).toMatchObject({ by: 'standing-approval', standingApprovalId: id });

    expect((await t.submit(deploy())).body.status).toBe('approved');
    expect((await t.submit(deploy())).body.status).toBe('pending');

    const listed = (await t.call('GET', '/v1/standing-approvals?all=true')).body.items;
    expect(listed.find((s: any) => s.id === id)).toMatchObject({ usesLeft: 0, maxUses: 2, active: false, grantedBy: { person: 'alice@example.com' }, rule: 'deploys' });
    expect((await t.call('GET', '/v1/standing-approvals')).body.items.map((s: any) => s.id)).not.toContain(id);
  });

  it('covers only the same action, resource, environment and requester', async () => {
    await grant('svc://ledger', 5);
    expect((await t.submit(deploy({ resource: 'svc://ledger' }))).body.status).toBe('approved');
    expect((await t.submit(deploy({ resource: 'svc://ledger-2' }))).body.status).toBe('pending');
    expect((await t.submit(deploy({ resource: 'svc://ledger', requester: { id: 'other-bot', type: 'agent' } }))).body.status).toBe('pending');
    expect((await t.submit(deploy({ resource: 'svc://ledger', environment: 'staging' }))).body.status).toBe('pending');
    expect((await t.submit(deploy({ resource: 'svc://ledger', action: 'deploy.rollback' }))).body.status).toBe('pending');
    // Never when its grantor is a party of the new request.
    expect((await t.submit(deploy({ resource: 'svc://ledger', onBehalfOf: { email: 'alice@example.com' } }))).body.status).toBe('pending');
  });

  it('gives exactly its uses to simultaneous requests', async () => {
    await grant('svc://burst', 3);
    const answers = await Promise.all(Array.from({ length: 12 }, () => t.submit(deploy({ resource: 'svc://burst' }))));
    expect(answers.filter((a) => a.body.status === 'approved')).toHaveLength(3);
    expect(answers.filter((a) => a.body.status === 'pending')).toHaveLength(9);
  });

  it('refuses standing approvals beyond the rule\'s bounds, on alwaysAsk rules, on quorum rules and with a denial, writing nothing', async () => {
    const req = await t.submit(deploy({ resource: 'svc://bounds' }));
    const tooMany = await vote(req.body.id, 'alice@example.com', { standing: { for: '15m', uses: 11 } });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.error).toMatchObject({ code: 'standing_not_allowed' });
    expect(tooMany.body.error.message).toContain('at most 10 uses');
    const tooLong = await vote(req.body.id, 'alice@example.com', { standing: { for: '1h', uses: 1 } });
    expect(tooLong.body.error.message).toContain('at most 900 seconds');
    const badDuration = await vote(req.body.id, 'alice@example.com', { standing: { for: 'soon', uses: 1 } });
    expect(badDuration.status).toBe(400);
    expect(badDuration.body.error.field).toBe('standing.for');
    const deny = await t.call('POST', `/v1/requests/${req.body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'deny', standing: { for: '5m', uses: 1 } } });
    expect(deny.status).toBe(422);
    expect((await t.call('GET', `/v1/requests/${req.body.id}`)).body).toMatchObject({ status: 'pending', votes: [] });

    const iam = await t.submit(deploy({ action: 'iam.grant' }));
    const always = await vote(iam.body.id, 'alice@example.com', { standing: { for: '5m', uses: 1 } });
    expect(always.status).toBe(422);
    expect(always.body.error.message).toContain('always asks');
    const exp = await t.submit(deploy({ action: 'dataset.export' }));
    expect((await vote(exp.body.id, 'alice@example.com', { standing: { for: '5m', uses: 1 } })).body.error.message).toContain('allows no standing approvals');
    const rows = await t.db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM standing_approval WHERE resource = 'svc://bounds' OR action <> 'deploy.service'`);
    expect(rows[0].n).toBe(0);
  });

  it('stops covering requests once expired', async () => {
    await grant('svc://short', 5, '1s');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await t.submit(deploy({ resource: 'svc://short' }))).body.status).toBe('pending');
  });

  it('can be revoked by any approver of its rule (audited), by nobody else, and only once', async () => {
    const id = await grant('svc://revoke', 5);
    const outsider = await t.call('POST', `/v1/standing-approvals/${id}/revoke`, { key: t.keys.approver, body: { approver: { email: 'mallory@example.com' } } });
    expect(outsider.status).toBe(403);
    expect(outsider.body.error.code).toBe('not_revocable');
    expect((await t.submit(deploy({ resource: 'svc://revoke' }))).body.status).toBe('approved');

    const revoked = await t.call('POST', `/v1/standing-approvals/${id}/revoke`, { key: t.keys.approver, body: { approver: { email: 'bob@example.com' }, reason: 'incident' } });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id, revokedBy: 'bob@example.com', active: false, usesLeft: 4 });
    expect((await t.submit(deploy({ resource: 'svc://revoke' }))).body.status).toBe('pending');
    const again = await t.call('POST', `/v1/standing-approvals/${id}/revoke`, { key: t.keys.approver, body: { approver: { email: 'carol@example.com' } } });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_revoked');
    const missing = await t.call('POST', '/v1/standing-approvals/00000000-0000-4000-8000-000000000000/revoke', { key: t.keys.approver, body: { approver: { email: 'bob@example.com' } } });
    expect(missing.status).toBe(404);

    const original = revoked.body.requestId as string;
    expect((await auditOf(original)).find((e) => e.type === 'standing_approval.revoked')?.data).toMatchObject({ standingApprovalId: id, by: 'bob@example.com', reason: 'incident' });
    // Reading is for deciders and auditors, not for the agents they cover.
    expect((await t.call('GET', '/v1/standing-approvals', { key: t.keys.agent })).status).toBe(403);
  });
});

describe('standing approvals from Slack', () => {
  it('offers "Approve + next 15m / 10 uses" on cards of rules that allow it, and the click grants one', async () => {
    const { startSlackTestApp, DATA_CHANNEL } = await import('../slack/slack-test-app');
    const s = await startSlackTestApp({
      policyYaml: POLICY.replace('    reason: none\n    standing:', `    reason: none\n    channels: ["slack:${DATA_CHANNEL}"]\n    standing:`).replace('    alwaysAsk: true', `    alwaysAsk: true\n    channels: ["slack:${DATA_CHANNEL}"]`),
    });
    try {
      const id = await s.submit(deploy({ resource: 'svc://slack' }));
      const card = await s.card(id);
      const buttons = JSON.stringify(card.history[0].blocks);
      expect(buttons).toContain('countersign_approve_standing');
      expect(buttons).toContain('Approve + next 15m / 10 uses');
      const click = await s.click(id, 'alice', 'countersign_approve_standing');
      const reply = await s.reply(click.responseUrl);
      expect(JSON.stringify(reply.body)).toContain('standing approval covers the same request for the next 10 uses');
      expect((await s.request(id)).status).toBe('approved');
      const covered = await s.t.submit(deploy({ resource: 'svc://slack' }));
      expect(covered.body.status).toBe('approved');
      // Approved at intake, like a routine rule: the requester is owed no notification (people decided nothing now).
      expect(await s.t.app.store.requests.changeSummary(covered.body.id)).toMatchObject({ byStandingApproval: true });
      const owed = await s.t.app.store.requests.owingChanges(1, 1000);
      expect(owed.map((r) => r.id)).not.toContain(covered.body.id);
      // The request alice decided is owed one (or already has it): the read-out is not empty by accident.
      const decided = await s.request(id);
      expect(owed.some((r) => r.id === id) || decided.deliveries.some((d: any) => d.kind === 'notify')).toBe(true);

      // An alwaysAsk rule's card offers no such button.
      const iam = await s.submit(deploy({ action: 'iam.grant' }));
      expect(JSON.stringify((await s.card(iam)).history[0].blocks)).not.toContain('countersign_approve_standing');
    } finally {
      await s.close();
    }
  });
});

describe('standing approvals after the policy changes', () => {
  it('stop covering requests when the rule\'s bounds are tightened below them', async () => {
    const database = await createTestDatabase();
    const before = await startTestApp({ policyYaml: POLICY, database, keepDatabase: true });
    let grantId: string;
    try {
      const first = await before.submit(deploy({ resource: 'svc://tighten' }));
      const res = await before.call('POST', `/v1/requests/${first.body.id}/decisions`, { key: before.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve', standing: { for: '15m', uses: 10 } } });
      grantId = res.body.standingApproval.id;
      expect((await before.submit(deploy({ resource: 'svc://tighten' }))).body.status).toBe('approved');
    } finally {
      await before.close();
    }
    const after = await startTestApp({ policyYaml: POLICY.replace('maxUses: 10', 'maxUses: 5'), database });
    try {
      expect((await after.submit(deploy({ resource: 'svc://tighten' }))).body.status).toBe('pending');
      const listed = (await after.call('GET', '/v1/standing-approvals')).body.items;
      expect(listed.map((x: any) => x.id)).toContain(grantId);
    } finally {
      await after.close();
    }
  });
});
