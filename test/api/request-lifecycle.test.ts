/** The API channel end to end: intake, policy outcomes, votes and every rule the core enforces. */
import { chatPresented } from '../../src/channels/chat-identity';
import { parseBootstrapKeys } from '../../src/services/api-key-service';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const vote = (id: string, approver: Record<string, string>, decision: 'approve' | 'deny', reason?: string, key?: string) =>
  t.call('POST', `/v1/requests/${id}/decisions`, { key: key ?? t.keys.approver, body: { approver, decision, ...(reason ? { reason } : {}) } });

async function auditTypes(id: string): Promise<string[]> {
  const res = await t.call('GET', `/v1/audit?requestId=${id}&limit=200`);
  return res.body.items.map((e: { type: string }) => e.type);
}

describe('intake and policy', () => {
  it('records a sensitive request as pending with the matched rule, and hashes secret context', async () => {
    const res = await t.submit(baseRequest());
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'pending', rule: 'two-person-export' });
    expect(res.headers.get('location')).toBe(res.body.links.self);
    expect(new Date(res.body.expiresAt).getTime()).toBeGreaterThan(Date.now());

    const get = await t.call('GET', `/v1/requests/${res.body.id}`, { key: t.keys.agent });
    expect(get.status).toBe(200);
    expect(get.body).toMatchObject({
      status: 'pending',
      action: 'dataset.export',
      requester: { id: 'etl-agent-7', type: 'agent', model: 'gpt-5-mini' },
      onBehalfOf: { email: 'frank@example.com' },
      policy: { rule: 'two-person-export', outcome: 'require' },
      approvals: { required: 2, received: 0 },
      submittedBy: { apiKey: 'agent', owner: 'ops-lead@example.com' },
    });
    expect(get.body.policy.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(get.body.context.rows).toBe(120000);
    expect(get.body.context.db_password).toEqual({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });

    // The clear value is nowhere in the database: not in the request row, not in the audit trail.
    const leaks = await t.db.$queryRawUnsafe<{ n: number }[]>(
      `SELECT (SELECT count(*) FROM approval_request WHERE context::text LIKE '%hunter2%')::int + (SELECT count(*) FROM audit_event WHERE payload LIKE '%hunter2%')::int AS n`,
    );
    expect(leaks[0].n).toBe(0);
    expect((await auditTypes(res.body.id)).slice(0, 2)).toEqual(['request.submitted', 'policy.matched']);
    // No Slack is configured in this app: the card owed to slack:C0000DATA is recorded as skipped, not lost silently.
    const skipped = await t.waitFor(async () => (await t.call('GET', `/v1/requests/${res.body.id}`)).body.deliveries.find((d: { status: string }) => d.status === 'skipped'), 5000, 'skipped delivery');
    expect(skipped).toMatchObject({ kind: 'card', target: 'slack:C0000DATA' });
    expect(await auditTypes(res.body.id)).toContain('delivery.skipped');
  });

  it('approves a routine request outright, recorded as approved by policy, with no card', async () => {
    const res = await t.submit(baseRequest({ action: 'table.read', environment: 'staging' }));
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'approved', rule: 'routine-reads' });
    const get = await t.call('GET', `/v1/requests/${res.body.id}`);
    expect(get.body).toMatchObject({ status: 'approved', decidedBy: 'policy', votes: [], deliveries: [] });
    expect(await auditTypes(res.body.id)).toEqual(['request.submitted', 'policy.matched', 'request.decided']);
  });

  it('denies a forbidden request outright with the rule message', async () => {
    const res = await t.submit(baseRequest({ action: 'bucket.delete' }));
    expect(res.body).toMatchObject({ status: 'denied', rule: 'no-deletes', reason: 'Deletes are never allowed for agents.' });
    const again = await vote(res.body.id, { email: 'alice@example.com' }, 'approve');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_decided');
  });
});

describe('decisions', () => {
  it('needs two distinct approvers; the same person voting twice, or from another channel, counts once', async () => {
    const { body } = await t.submit(baseRequest());
    const first = await vote(body.id, { email: 'alice@example.com' }, 'approve');
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ outcome: 'accepted', status: 'pending', approvals: 1, approvalsRequired: 2 });

    const twice = await vote(body.id, { email: 'ALICE@example.com', name: 'Alice again' }, 'approve');
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('already_voted');

    // Alice clicking in Slack is resolved to her email by the adapter: still the same person.
    const alice = { email: 'alice@example.com', slackUserId: 'U0000ALICE' };
    const viaSlack = await t.app.services.decisions.vote(body.id, { presented: chatPresented('slack', alice), approver: alice, channel: 'slack', decision: 'approve' });
    expect(viaSlack).toMatchObject({ outcome: 'refused', refusal: 'already_voted' });

    const second = await vote(body.id, { email: 'bob@example.com' }, 'approve');
    expect(second.body).toMatchObject({ status: 'approved', approvals: 2 });

    const get = await t.call('GET', `/v1/requests/${body.id}`);
    expect(get.body.status).toBe('approved');
    expect(get.body.votes.map((v: { personKey: string; channel: string }) => [v.personKey, v.channel])).toEqual([
      ['alice@example.com', 'api'],
      ['bob@example.com', 'api'],
    ]);
    expect(get.body.decidedBy).toBe('alice@example.com, bob@example.com');
    const types = await auditTypes(body.id);
    expect(types.filter((x) => x === 'vote.refused')).toHaveLength(2);
    expect(types.filter((x) => x === 'vote.cast')).toHaveLength(2);
    expect(types.at(-1)).toBe('request.decided');
  });

  it.each([
    ['the requester', { email: 'etl-agent@example.com' }],
    ['the person on whose behalf', { email: 'FRANK@example.com' }],
    ['the owner of the submitting key', { email: 'ops-lead@example.com' }],
  ])('refuses self-approval by %s, records it, and leaves the request pending', async (_who, approver) => {
    // Make each of them an eligible approver, so only the self-approval rule can refuse them.
    const policyEligible = baseRequest({ requester: { id: 'etl-agent-7', type: 'agent', email: 'etl-agent@example.com' } });
    const { body } = await t.submit(policyEligible);
    const res = await vote(body.id, approver, 'approve');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('self_approval');
    expect(res.body.error.message).toMatch(/Self-approval is not allowed/);
    expect((await t.call('GET', `/v1/requests/${body.id}`)).body.status).toBe('pending');
    const refusals = (await t.call('GET', `/v1/audit?requestId=${body.id}&type=vote.refused`)).body.items;
    expect(refusals).toHaveLength(1);
    expect(refusals[0].data).toMatchObject({ refusal: 'self_approval', attempted: 'approve' });
  });

  it('refuses self-approval even when the person is an approver, matched on a shared Slack id', async () => {
    const { body } = await t.submit(baseRequest({ onBehalfOf: { email: 'alice@example.com', slackUserId: 'U0000ALICE' } }));
    const res = await t.app.services.decisions.vote(body.id, { presented: chatPresented('slack', { slackUserId: 'U0000ALICE' }), approver: { slackUserId: 'U0000ALICE' }, channel: 'slack', decision: 'approve' });
    expect(res).toMatchObject({ outcome: 'refused', refusal: 'self_approval' });
    const byEmail = await vote(body.id, { email: 'Alice@Example.com' }, 'approve');
    expect(byEmail.body.error.code).toBe('self_approval');
  });

  it('never lets a key that can submit also decide, so it cannot approve its own requests by naming someone else', async () => {
    expect(() => parseBootstrapKeys('both:0123456789abcdefgh:submit+decide:ops@example.com')).toThrow(/never holds `submit` together with `decide`/);
    await expect(t.app.services.apiKeys.create({ name: 'both', scopes: ['submit', 'attest'], owner: 'ops@example.com', actor: 'test' })).rejects.toMatchObject({ code: 'invalid_key' });
    const { body } = await t.submit(baseRequest());
    const res = await vote(body.id, { email: 'alice@example.com' }, 'approve', undefined, t.keys.agent);
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
  });

  it('refuses approvers outside the rule groups and records the refusal', async () => {
    const { body } = await t.submit(baseRequest());
    const res = await vote(body.id, { email: 'mallory@example.com' }, 'approve');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('not_eligible');
    expect(await auditTypes(body.id)).toContain('vote.refused');
  });

  it('denies on any eligible deny, requiring a reason where the rule says so', async () => {
    const { body } = await t.submit(baseRequest());
    const noReason = await vote(body.id, { email: 'carol@example.com' }, 'deny');
    expect(noReason.status).toBe(422);
    expect(noReason.body.error.code).toBe('reason_required');
    await vote(body.id, { email: 'alice@example.com' }, 'approve');
    const deny = await vote(body.id, { email: 'carol@example.com' }, 'deny', 'Not during the freeze');
    expect(deny.body).toMatchObject({ status: 'denied' });
    const get = await t.call('GET', `/v1/requests/${body.id}`);
    expect(get.body).toMatchObject({ status: 'denied', decidedBy: 'carol@example.com', decisionReason: 'Not during the freeze' });
    const late = await vote(body.id, { email: 'bob@example.com' }, 'approve');
    expect(late.body.error.code).toBe('already_decided');
  });

  it('answers 404 for unknown and malformed ids, recording nothing', async () => {
    const before = await t.db.auditEvent.count();
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await vote(id, { email: 'alice@example.com' }, 'approve');
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'not_found', field: 'id' });
      expect((await t.call('GET', `/v1/requests/${id}`)).status).toBe(404);
      expect((await t.call('POST', `/v1/requests/${id}/cancel`, { key: t.keys.agent, body: {} })).status).toBe(404);
    }
    expect(await t.db.auditEvent.count()).toBe(before);
  });

  it('produces exactly one final transition from 50 concurrent votes', async () => {
    const { body } = await t.submit(baseRequest());
    const voters = ['alice@example.com', 'bob@example.com', 'carol@example.com'];
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => vote(body.id, { email: voters[i % 3] }, 'approve')));
    const accepted = results.filter((r) => r.status === 201);
    expect(accepted).toHaveLength(2);
    expect(accepted.filter((r) => r.body.status === 'approved')).toHaveLength(1);
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const decided = (await t.call('GET', `/v1/audit?requestId=${body.id}&type=request.decided`)).body.items;
    expect(decided).toHaveLength(1);
    const votes = await t.db.vote.count({ where: { requestId: body.id } });
    expect(votes).toBe(2);
  });

  it('lets only the submitting key cancel, once, and then refuses votes', async () => {
    const { body } = await t.submit(baseRequest());
    const other = await t.call('POST', `/v1/requests/${body.id}/cancel`, { key: t.keys.agent2, body: {} });
    expect(other.status).toBe(403);
    const res = await t.call('POST', `/v1/requests/${body.id}/cancel`, { key: t.keys.agent, body: { reason: 'no longer needed' } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');
    expect((await t.call('POST', `/v1/requests/${body.id}/cancel`, { key: t.keys.agent, body: {} })).body.error.code).toBe('already_decided');
    expect((await vote(body.id, { email: 'alice@example.com' }, 'approve')).body.error.code).toBe('already_decided');
  });

  it('long-polls until decided', async () => {
    const { body } = await t.submit(baseRequest({ action: 'service.restart' }));
    const started = Date.now();
    const waiting = t.call('GET', `/v1/requests/${body.id}?wait=20`, { key: t.keys.agent });
    await new Promise((r) => setTimeout(r, 200));
    await vote(body.id, { email: 'bob@example.com' }, 'approve');
    const res = await waiting;
    expect(res.body.status).toBe('approved');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('accepts an outcome report from the submitter once the request is approved', async () => {
    const { body } = await t.submit(baseRequest({ action: 'service.restart' }));
    const early = await t.call('POST', `/v1/requests/${body.id}/outcome`, { key: t.keys.agent, body: { status: 'succeeded' } });
    expect(early.body.error.code).toBe('not_approved');
    await vote(body.id, { email: 'bob@example.com' }, 'approve');
    const ok = await t.call('POST', `/v1/requests/${body.id}/outcome`, { key: t.keys.agent, body: { status: 'succeeded', detail: 'exported 120000 rows' } });
    expect(ok.status).toBe(201);
    expect((await t.call('GET', `/v1/requests/${body.id}`)).body.outcomeReport).toMatchObject({ status: 'succeeded' });
    expect(await auditTypes(body.id)).toContain('outcome.reported');
  });
});

describe('reading', () => {
  it('lists with filters and cursor pagination, and hides other keys\u2019 requests from read-only keys', async () => {
    const traceId = `trace-${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await t.submit(baseRequest({ traceId }))).body.id);
    const page1 = await t.call('GET', `/v1/requests?traceId=${traceId}&limit=2`, { key: t.keys.approver });
    expect(page1.body.items).toHaveLength(2);
    const page2 = await t.call('GET', `/v1/requests?traceId=${traceId}&limit=2&cursor=${page1.body.nextCursor}`, { key: t.keys.approver });
    const page3 = await t.call('GET', `/v1/requests?traceId=${traceId}&limit=2&cursor=${page2.body.nextCursor}`, { key: t.keys.approver });
    const seen = [...page1.body.items, ...page2.body.items, ...page3.body.items].map((r: { id: string }) => r.id);
    expect(seen.sort()).toEqual([...ids].sort());
    expect(page3.body.nextCursor).toBeNull();

    const reader = await t.call('GET', `/v1/requests?traceId=${traceId}`, { key: t.keys.reader });
    expect(reader.body.items).toHaveLength(0);
    expect((await t.call('GET', `/v1/requests/${ids[0]}`, { key: t.keys.reader })).status).toBe(404);
  });
});
