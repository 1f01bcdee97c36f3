/**
 * Deciding in the web console through the real HTTP surface: the inbox (filters, keyset pages), the request page
 * (sealed audit events, hashed context), decisions as the `web` channel under the same rules as every channel
 * (self-approval, one vote per person across channels, reasons), step-up for one-time-link sessions, and live inbox
 * updates over server-sent events.
 */
import { ConsoleBrowser, startConsoleApp } from '../support/console-client';
import { baseRequest, KEYS, type TestApp } from '../support/start-app';

let t: TestApp;
let alice: ConsoleBrowser;
let bob: ConsoleBrowser;
beforeAll(async () => {
  t = await startConsoleApp({ env: { CONSOLE_AUDITOR_GROUPS: 'security', AUDIT_SEAL_INTERVAL_MS: '100' } });
  alice = await new ConsoleBrowser(t).signInWithLink('alice@example.com');
  bob = await new ConsoleBrowser(t).signInWithLink('bob@example.com');
});
afterAll(async () => {
  await t?.close();
});

async function submit(overrides: Record<string, unknown>): Promise<string> {
  const res = await t.submit(baseRequest(overrides));
  expect(res.status).toBe(202);
  return res.body.id;
}

describe('inbox', () => {
  let exportId: string;
  let restartId: string;
  beforeAll(async () => {
    exportId = await submit({ risk: 'medium' });
    restartId = await submit({ action: 'service.restart', resource: 'svc://billing', risk: 'low', environment: 'staging', justification: 'Hung worker', onBehalfOf: undefined });
  });

  it('lists what the person may decide, newest first, in keyset pages', async () => {
    const first = await alice.get('/console/api/inbox?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.items.map((r: any) => r.id)).toEqual([restartId]);
    expect(first.body.items[0]).toMatchObject({ status: 'pending', approvals: { required: 1, received: 0 }, expiresAt: expect.any(String), action: 'service.restart' });
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await alice.get(`/console/api/inbox?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((r: any) => r.id)).toEqual([exportId]);
    const third = await alice.get(`/console/api/inbox?limit=1&cursor=${second.body.nextCursor}`);
    expect(second.body.nextCursor === null || third.body.items.length === 0).toBe(true);
  });

  it('filters by action, risk, environment and text', async () => {
    const ids = async (q: string) => (await alice.get(`/console/api/inbox?${q}`)).body.items.map((r: any) => r.id);
    expect(await ids('action=dataset.export')).toEqual([exportId]);
    expect(await ids('action=dataset.*')).toEqual([exportId]);
    expect(await ids('action=*.restart')).toEqual([restartId]);
    expect(await ids('action=dataset_export')).toEqual([]);
    expect(await ids('risk=low')).toEqual([restartId]);
    expect(await ids('environment=production')).toEqual([exportId]);
    expect(await ids('q=CHURN')).toEqual([exportId]);
    expect(await ids('q=100%25')).toEqual([]);
    expect(await alice.get('/console/api/inbox?risk=extreme')).toMatchObject({ status: 400, body: { code: 'validation_failed' } });
    expect(await alice.get('/console/api/inbox?cursor=nonsense')).toMatchObject({ status: 400, body: { code: 'invalid_cursor' } });
  });

  it('shows nothing to somebody in no approver group, and hides the requests themselves', async () => {
    const mallory = await new ConsoleBrowser(t).signInWithLink('mallory');
    expect((await mallory.get('/console/api/session')).body).toMatchObject({ person: { id: 'mallory', name: 'Mallory Outsider' }, roles: [] });
    expect((await mallory.get('/console/api/inbox')).body).toEqual({ items: [], nextCursor: null });
    expect(await mallory.get(`/console/api/requests/${exportId}`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(await mallory.post(`/console/api/requests/${exportId}/decisions`, { decision: 'approve' })).toMatchObject({ status: 404, body: { code: 'not_found' } });
  });
});

describe('deciding', () => {
  it('votes as the web channel, counts each person once across channels, and updates the inbox', async () => {
    const id = await submit({ risk: 'medium' });
    const res = await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id, status: 'pending', approvals: { required: 2, received: 1 } });
    expect(res.body.votes).toEqual([expect.objectContaining({ personKey: 'alice@example.com', channel: 'web', decision: 'approve', approver: { name: 'alice@example.com', email: 'alice@example.com' } })]);
    expect((await alice.get('/console/api/inbox')).body.items.map((r: any) => r.id)).not.toContain(id);

    // The same person through another channel (an attesting portal) is refused: one person, one vote.
    const viaApi = await t.call('POST', `/v1/requests/${id}/decisions`, { key: KEYS.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve' } });
    expect(viaApi.status).toBe(409);
    expect(viaApi.body.error).toMatchObject({ code: 'already_voted' });
    expect(viaApi.body.error.message).toContain('via web');
    expect(await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' })).toMatchObject({ status: 409, body: { code: 'already_voted' } });

    const done = await bob.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' });
    expect(done.body).toMatchObject({ status: 'approved', approvals: { received: 2 } });
    expect(typeof done.body.grant).toBe('string');
    expect(await bob.post(`/console/api/requests/${id}/decisions`, { decision: 'deny', reason: 'late' })).toMatchObject({ status: 409, body: { code: 'already_decided' } });

    const cast = (await t.call('GET', `/v1/audit?requestId=${id}&type=vote.cast`)).body.items;
    expect(cast.map((e: any) => [e.channel, e.actor.key])).toEqual([['web', 'alice@example.com'], ['web', 'bob@example.com']]);
  });

  it('refuses self-approval and records the attempt', async () => {
    const carol = await new ConsoleBrowser(t).signInWithLink('carol@example.com');
    const id = await submit({ risk: 'low', onBehalfOf: { email: 'carol@example.com' } });
    expect((await carol.get('/console/api/inbox')).body.items.map((r: any) => r.id)).not.toContain(id);
    const res = await carol.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ code: 'self_approval', requestId: id, status: 'pending' });
    const refused = (await t.call('GET', `/v1/audit?requestId=${id}&type=vote.refused`)).body.items;
    expect(refused).toEqual([expect.objectContaining({ channel: 'web', data: expect.objectContaining({ refusal: 'self_approval', person: 'carol@example.com' }) })]);
  });

  it('asks for a reason where the rule wants one, and checks the body', async () => {
    const id = await submit({ risk: 'low' });
    expect(await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'deny' })).toMatchObject({ status: 422, body: { code: 'reason_required' } });
    expect(await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'maybe' })).toMatchObject({ status: 400, body: { code: 'validation_failed', field: 'decision' } });
    const denied = await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'deny', reason: 'Not this quarter' });
    expect(denied.body).toMatchObject({ status: 'denied', decisionReason: 'Not this quarter' });
  });

  it('needs the CSRF token to decide', async () => {
    const id = await submit({ risk: 'low' });
    expect(await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' }, { 'x-csrf-token': 'forged' })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
    expect((await t.call('GET', `/v1/requests/${id}`)).body.votes).toEqual([]);
  });

  it('cannot step up a one-time-link session for high and critical requests (nor for one that states no risk)', async () => {
    for (const risk of ['high', 'critical', undefined]) {
      const id = await submit({ risk });
      const res = await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' });
      expect(res).toMatchObject({ status: 403, body: { code: 'step_up_unavailable' } });
      expect((await t.call('GET', `/v1/requests/${id}`)).body.votes).toEqual([]);
      const trail = (await t.call('GET', `/v1/audit?requestId=${id}&type=console.step_up_refused`)).body.items;
      expect(trail).toEqual([expect.objectContaining({ channel: 'web', data: expect.objectContaining({ person: 'alice@example.com', code: 'step_up_unavailable', signIn: 'link', attempted: 'approve', risk: risk ?? 'critical' }) })]);
    }
  });
});

describe('history', () => {
  it('lists what the person voted on, through any channel, newest first', async () => {
    const carol = await new ConsoleBrowser(t).signInWithLink('carol@example.com');
    const a = await submit({ risk: 'low' });
    const b2 = await submit({ risk: 'low', action: 'service.restart', environment: 'dev' });
    expect(await carol.post(`/console/api/requests/${a}/decisions`, { decision: 'approve' })).toMatchObject({ status: 201 });
    const viaApi = await t.call('POST', `/v1/requests/${b2}/decisions`, { key: KEYS.approver, body: { approver: { email: 'carol@example.com' }, decision: 'approve' } });
    expect(viaApi.status).toBe(201);
    const first = await carol.get('/console/api/history?limit=1');
    expect(first.body.items.map((r: any) => r.id)).toEqual([b2]);
    expect(first.body.items[0]).toMatchObject({ status: 'approved', grant: expect.any(String) });
    const second = await carol.get(`/console/api/history?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((r: any) => r.id)).toEqual([a]);
    // Others' votes are not in it.
    expect((await bob.get('/console/api/history')).body.items.map((r: any) => r.id)).not.toContain(b2);
  });
});

describe('request page', () => {
  it('shows votes, deliveries, the audit trail with its seals, and never a hashed context value in clear', async () => {
    const id = await submit({ risk: 'medium' });
    await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' });
    const page = await t.waitFor(async () => {
      const p = await alice.get(`/console/api/requests/${id}`);
      return p.body.audit?.length >= 3 && p.body.audit.every((e: any) => e.sealed) ? p : undefined;
    }, 10_000, 'the request\'s events to be sealed');
    expect(page.status).toBe(200);
    expect(page.body.request).toMatchObject({ id, status: 'pending' });
    expect(page.body.votes).toHaveLength(1);
    expect(page.body.deliveries).toEqual(expect.any(Array));
    expect(page.body.grantUses).toEqual([]);
    expect(page.body.outcome).toBeNull();
    // In the trail's order (a delivery event may fall anywhere after the policy's match).
    expect(page.body.audit.map((e: any) => e.type).filter((type: string) => !type.startsWith('delivery.'))).toEqual(['request.submitted', 'policy.matched', 'vote.cast']);
    for (const e of page.body.audit) {
      expect(e.checkpoint.treeSize).toBeGreaterThan(Number(e.leafIndex));
      expect(e.checkpoint.rootHash).toEqual(expect.any(String));
    }
    expect(JSON.stringify(page.body)).not.toContain('hunter2');
    expect(page.body.request.context.db_password).not.toBe('hunter2');
  });

  it('shows auditors every request, approvers only theirs', async () => {
    const id = await submit({ action: 'iam.grant', risk: 'low', justification: 'needs admin' });
    const dave = await new ConsoleBrowser(t).signInWithLink('dave@example.com');
    expect((await dave.get(`/console/api/requests/${id}`)).status).toBe(200);
    const other = await submit({ risk: 'low' });
    expect((await dave.get(`/console/api/requests/${other}`)).status).toBe(200); // auditor, not an approver of it
    expect((await dave.get('/console/api/inbox')).body.items.map((r: any) => r.id)).toEqual([id]);
  });
});

/** Reads server-sent events from a console stream. */
async function openStream(b: ConsoleBrowser) {
  const abort = new AbortController();
  const res = await fetch(`${t.baseUrl}/console/api/inbox/stream`, { headers: { cookie: `cs_session=${b.cookie}` }, signal: abort.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: { event: string; data: any }[] = [];
  const state = { ended: false };
  const reader = res.body!.getReader();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          state.ended = true;
          return;
        }
        buffer += Buffer.from(value).toString();
        let i;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return { events, state, close: () => abort.abort() };
}

describe('live inbox', () => {
  it('pushes new requests and removes decided ones', async () => {
    const dave = await new ConsoleBrowser(t).signInWithLink('dave@example.com');
    const stream = await openStream(dave);
    try {
      // Give the subscription a moment to reach Redis before publishing (pub/sub is at-most-once).
      await new Promise((r) => setTimeout(r, 200));
      const id = await submit({ action: 'iam.grant', risk: 'low', justification: 'rotate keys' });
      const up = await t.waitFor(async () => stream.events.find((e) => e.event === 'upsert' && e.data.id === id), 10_000, 'upsert');
      expect(up.data).toMatchObject({ status: 'pending', action: 'iam.grant', approvals: { required: 1, received: 0 } });
      await alice.post(`/console/api/requests/${id}/decisions`, { decision: 'approve', reason: 'planned rotation' });
      await t.waitFor(async () => stream.events.find((e) => e.event === 'remove' && e.data.id === id), 10_000, 'remove');
      // Nothing about requests dave is no approver of (the default rule's group).
      const foreign = await submit({ action: 'service.restart', risk: 'low', environment: 'dev' });
      await alice.post(`/console/api/requests/${foreign}/decisions`, { decision: 'approve' });
      await new Promise((r) => setTimeout(r, 300));
      expect(stream.events.some((e) => e.data.id === foreign)).toBe(false);
    } finally {
      stream.close();
    }
  });

  it('ends when its session is signed out', async () => {
    const erin = await new ConsoleBrowser(t).signInWithLink('bob@example.com');
    const stream = await openStream(erin);
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect((await erin.post('/console/logout')).status).toBe(204);
      const id = await submit({ risk: 'low', action: 'service.restart', environment: 'dev' });
      await t.waitFor(async () => stream.state.ended, 10_000, 'the stream to end');
      expect(stream.events.some((e) => e.data.id === id)).toBe(false);
    } finally {
      stream.close();
    }
  });

  it('needs a session', async () => {
    const res = await fetch(`${t.baseUrl}/console/api/inbox/stream`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'not_signed_in' });
  });
});
