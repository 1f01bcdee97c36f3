/**
 * The lineage of an agent run (GET /v1/lineage and the console's /console/api/lineage) and trying the live policy
 * (POST /v1/policy/evaluate, the console's policy page), through the real HTTP surface.
 */
import pg from 'pg';
import { ConsoleBrowser, startConsoleApp } from '../support/console-client';
import { baseRequest, KEYS, type TestApp } from '../support/start-app';

let t: TestApp;
let root: string;
let child: string;
let grandchild: string;
let routine: string;
let other: string;

beforeAll(async () => {
  t = await startConsoleApp({ env: { CONSOLE_AUDITOR_GROUPS: 'security' } });
  const submit = async (o: Record<string, unknown>) => {
    const res = await t.submit(baseRequest({ risk: 'low', action: 'service.restart', onBehalfOf: undefined, ...o }));
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  root = await submit({ traceId: 'run-1' });
  child = await submit({ traceId: 'run-1', parentRequestId: root, action: 'db.migrate' });
  grandchild = await submit({ parentRequestId: child, action: 'db.backup' });
  routine = await submit({ traceId: 'run-1', action: 'table.read', environment: 'dev' });
  other = await submit({ traceId: 'run-2' });

  // The root is approved (an attesting portal), its grant used once, and its outcome reported.
  const vote = await t.call('POST', `/v1/requests/${root}/decisions`, { key: KEYS.approver, body: { approver: { email: 'alice@example.com', name: 'Alice' }, decision: 'approve' } });
  expect(vote.status).toBe(201);
  const grant = (await t.call('GET', `/v1/requests/${root}`)).body.grant;
  expect((await t.call('POST', '/v1/grants/use', { key: KEYS.agent, body: { grant } })).status).toBe(201);
  expect((await t.call('POST', `/v1/requests/${root}/outcome`, { key: KEYS.agent, body: { status: 'succeeded', detail: 'restarted' } })).status).toBe(201);
});
afterAll(async () => {
  await t?.close();
});

describe('GET /v1/lineage', () => {
  it('returns the run of a trace as a graph with decisions, grants, uses, outcomes and one timeline', async () => {
    const res = await t.call('GET', '/v1/lineage?traceId=run-1');
    expect(res.status).toBe(200);
    const g = res.body;
    expect(g.traceId).toBe('run-1');
    expect(g.truncated).toBe(false);
    expect(g.requests.map((r: any) => r.id)).toEqual([root, child, grandchild, routine]);
    expect(g.edges).toEqual([{ parent: root, child }, { parent: child, child: grandchild }]);
    expect(g.roots).toEqual([root, routine]);
    const [r, c, gc, rt] = g.requests;
    expect(r).toMatchObject({
      status: 'approved', parentRequestId: null, children: [child], submittedBy: 'agent', policy: { rule: 'default', outcome: 'require' },
      votes: [{ person: 'alice@example.com', channel: 'api', decision: 'approve' }],
      decision: { status: 'approved', by: 'Alice' },
      grantUse: { key: 'agent' },
      outcome: { status: 'succeeded', detail: 'restarted' },
    });
    expect(Date.parse(r.grant.expiresAt) - Date.parse(r.grant.issuedAt)).toBe(900_000);
    expect(c).toMatchObject({ parentRequestId: root, children: [grandchild], status: 'pending', decision: null, grant: null });
    expect(gc).toMatchObject({ parentRequestId: child, traceId: null, children: [] });
    expect(rt).toMatchObject({ status: 'approved', policy: { outcome: 'approve' }, decision: { by: 'policy' }, grant: expect.any(Object) });
    const kinds = g.timeline.filter((e: any) => e.requestId === root).map((e: any) => e.kind);
    expect(kinds).toEqual(['submitted', 'vote', 'decided', 'grant_used', 'outcome']);
    const times = g.timeline.map((e: any) => e.at);
    expect([...times].sort()).toEqual(times);
    expect(g.requests.some((x: any) => x.id === other)).toBe(false);
  });

  it('walks up and down from one request', async () => {
    const g = (await t.call('GET', `/v1/lineage?requestId=${grandchild}`)).body;
    expect(g.requests.map((r: any) => r.id)).toEqual([root, child, grandchild, routine]);
    const fromChild = (await t.call('GET', `/v1/lineage?requestId=${child.toUpperCase()}`)).body;
    expect(fromChild.traceId).toBe('run-1');
    expect(fromChild.requests.map((r: any) => r.id)).toEqual([root, child, grandchild, routine]);
  });

  it('shows a read key only what it submitted, and checks the query', async () => {
    expect((await t.call('GET', `/v1/lineage?requestId=${root}`, { key: KEYS.reader })).status).toBe(404);
    expect((await t.call('GET', '/v1/lineage?traceId=run-1', { key: KEYS.reader })).body.requests).toEqual([]);
    expect((await t.call('GET', '/v1/lineage?traceId=run-1', { key: KEYS.agent2 })).body.requests).toEqual([]);
    expect((await t.call('GET', '/v1/lineage?traceId=run-1', { key: KEYS.agent })).body.requests).toHaveLength(4);
    expect((await t.call('GET', `/v1/lineage?traceId=run-1&requestId=${root}`)).body.error).toMatchObject({ code: 'validation_failed', field: 'traceId' });
    expect((await t.call('GET', '/v1/lineage')).body.error.code).toBe('validation_failed');
    expect((await t.call('GET', '/v1/lineage?requestId=nope')).body.error).toMatchObject({ code: 'validation_failed', field: 'requestId' });
    expect((await t.call('GET', `/v1/lineage?requestId=00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  });

  it('is in the OpenAPI document', async () => {
    const doc: any = await (await fetch(`${t.baseUrl}/openapi.json`)).json();
    expect(doc.paths['/v1/lineage'].get.description).toMatch(/Scope: read/);
    expect(doc.paths['/v1/policy/evaluate'].post).toBeDefined();
  });
});

describe('POST /v1/policy/evaluate', () => {
  async function count(): Promise<number> {
    const client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
    try {
      return Number((await client.query('SELECT (SELECT count(*) FROM approval_request) + (SELECT count(*) FROM audit_event) AS n')).rows[0].n);
    } finally {
      await client.end();
    }
  }

  it('says what the live policy would decide, and who could approve, without recording anything', async () => {
    const before = await count();
    const res = await t.call('POST', '/v1/policy/evaluate', {
      body: { action: 'dataset.export', resource: 'warehouse://prod/x', requester: { id: 'agent-1', type: 'agent', email: 'Alice@example.com' }, environment: 'production', onBehalfOf: { email: 'bob@example.com' } },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      policy: { hash: t.app.policy().hash, rules: 5 }, rule: 'two-person-export', ruleIndex: 2, outcome: 'require', message: null, assumedRisk: null,
      requirement: { approvers: ['approvers'], approvals: 2, reason: 'on-deny', channels: ['slack:C0000DATA'] },
    });
    expect(res.body.requirement.excluded.map((m: any) => m.id).sort()).toEqual(['alice@example.com', 'bob@example.com']);
    expect(res.body.requirement.members.map((m: any) => m.id)).toContain('carol@example.com');
    expect(res.body.requirement.members.map((m: any) => m.id)).not.toContain('alice@example.com');

    const denied = await t.call('POST', '/v1/policy/evaluate', { body: { action: 'files.delete', resource: 'x', requester: { id: 'a', type: 'agent' } } });
    expect(denied.body).toMatchObject({ rule: 'no-deletes', outcome: 'deny', message: 'Deletes are never allowed for agents.', requirement: null });
    expect(await count()).toBe(before);
  });

  it('needs the audit scope and a valid sample', async () => {
    expect((await t.call('POST', '/v1/policy/evaluate', { key: KEYS.reader, body: {} })).status).toBe(403);
    const bad = await t.call('POST', '/v1/policy/evaluate', { body: { action: 'x', resource: 'y', requester: { id: 'a', type: 'robot' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'validation_failed', field: 'requester.type' });
  });
});

describe('console lineage and policy', () => {
  it('shows the run to its approvers and auditors, nothing to others', async () => {
    const alice = await new ConsoleBrowser(t).signInWithLink('alice@example.com');
    const g = (await alice.get('/console/api/lineage?traceId=run-1')).body;
    expect(g.requests.map((r: any) => r.id)).toEqual([root, child, grandchild]); // the routine one had no approvers
    const dave = await new ConsoleBrowser(t).signInWithLink('dave@example.com');
    expect((await dave.get('/console/api/lineage?traceId=run-1')).body.requests).toHaveLength(4);
    const mallory = await new ConsoleBrowser(t).signInWithLink('mallory');
    expect(await mallory.get(`/console/api/lineage?requestId=${root}`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect((await mallory.get('/console/api/lineage?traceId=run-1')).body.requests).toEqual([]);
  });

  it('shows the policy with member names and rules in order; only auditors try it', async () => {
    const alice = await new ConsoleBrowser(t).signInWithLink('alice@example.com');
    const p = (await alice.get('/console/api/policy')).body;
    expect(p.hash).toBe(t.app.policy().hash);
    expect(p.rules.map((r: any) => r.name)).toEqual(['routine-reads', 'no-deletes', 'two-person-export', 'always-reason', 'default']);
    expect(p.groups.find((g: any) => g.name === 'security').members).toEqual([{ id: 'dave@example.com', name: 'dave@example.com' }]);
    expect(p.people).toEqual([{ id: 'mallory', name: 'Mallory Outsider' }]);

    const sample = { action: 'iam.grant', resource: 'role/admin', requester: { id: 'a', type: 'agent' } };
    expect(await alice.post('/console/api/policy/evaluate', sample)).toMatchObject({ status: 403, body: { code: 'not_an_auditor' } });
    const dave = await new ConsoleBrowser(t).signInWithLink('dave@example.com');
    expect(await dave.post('/console/api/policy/evaluate', sample, { 'x-csrf-token': 'nope' })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
    const res = await dave.post('/console/api/policy/evaluate', sample);
    expect(res.status).toBe(200);
    expect(res.body).toEqual((await t.call('POST', '/v1/policy/evaluate', { body: sample })).body);
    expect(res.body).toMatchObject({ rule: 'always-reason', requirement: { reason: 'always' } });
  });
});
