/** The TypeScript client (clients/typescript) against the real service: submit, wait, decide, guard, errors, limits. */
import { randomUUID } from 'node:crypto';
import { ApprovalNotGrantedError, CountersignClient, CountersignError, type ApprovalInput } from '../../clients/typescript/src/index';
import { KEYS, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let client: CountersignClient;

beforeAll(async () => {
  t = await startTestApp({ env: { LONG_POLLS_PER_KEY: '1' } });
  client = new CountersignClient({ baseUrl: t.baseUrl, apiKey: KEYS.agent });
});
afterAll(async () => t?.close());

function input(overrides: Partial<ApprovalInput> = {}): ApprovalInput {
  return {
    action: 'service.restart',
    resource: 'k8s://prod/payments',
    environment: 'production',
    risk: 'high',
    requester: { id: 'deploy-agent', type: 'agent' },
    traceId: randomUUID(),
    context: { ticket: 'INC-1', api_token: 'never in clear' },
    ...overrides,
  };
}

/** The id of the request submitted with this trace id, once it exists. */
async function submittedId(traceId: string): Promise<string> {
  return t.waitFor(async () => (await t.call('GET', `/v1/requests?traceId=${traceId}`, { key: KEYS.admin })).body.items[0]?.id, 10_000, 'the submitted request');
}

async function vote(id: string, email: string, decision: 'approve' | 'deny', reason?: string) {
  const res = await t.call('POST', `/v1/requests/${id}/decisions`, { key: KEYS.approver, body: { approver: { email }, decision, ...(reason ? { reason } : {}) } });
  expect(res.status).toBe(201);
}

test('a routine action is approved by policy at once; guard checks the grant offline, uses it once, runs it and reports the outcome', async () => {
  const ran: string[] = [];
  const result = await client.guard(input({ action: 'table.read', environment: 'dev', risk: undefined }), (approval) => {
    ran.push(approval.id);
    return 42;
  }, { describe: (v) => `read ${v} rows` });
  expect(result.value).toBe(42);
  expect(result.approval).toMatchObject({ approved: true, status: 'approved', rule: 'routine-reads', decidedBy: 'policy', summary: 'approved by policy' });
  expect(result.grant).toMatchObject({ verified: true, used: true, claims: { jti: ran[0], cs_rule: 'routine-reads', cs_approvers: ['policy'] } });
  expect(result.outcomeReported).toBe(true);
  const stored = await t.call('GET', `/v1/requests/${ran[0]}`, { key: KEYS.agent });
  expect(stored.body.outcomeReport).toMatchObject({ status: 'succeeded', detail: 'read 42 rows' });
  // The service recorded the use: the same grant cannot run the action a second time.
  expect(stored.body.grantUse).toMatchObject({ key: 'agent' });
  const again = await t.call('POST', '/v1/grants/use', { key: KEYS.agent, body: { grant: stored.body.grant } });
  expect(again.status).toBe(409);
  expect(again.body.error.code).toBe('grant_already_used');
});

test('requestApproval waits through long-polls until a person approves', async () => {
  const req = input();
  const waiting = client.requestApproval(req, { wait: true });
  const id = await submittedId(req.traceId!);
  await vote(id, 'alice@example.com', 'approve');
  const approval = await waiting;
  expect(approval).toMatchObject({ id, approved: true, final: true, timedOut: false, status: 'approved', approvers: ['alice@example.com'] });
  expect(approval.summary).toBe('approved by alice@example.com');
  // Sensitive context stays hashed in what the client reads back.
  expect(approval.request?.context.api_token).toEqual({ sha256: expect.any(String) });
});

test('guard never runs a denied action and says who denied and why', async () => {
  const req = input();
  let ran = false;
  const guarded = client.guard(req, () => {
    ran = true;
  });
  const id = await submittedId(req.traceId!);
  await vote(id, 'bob@example.com', 'deny', 'not during the freeze');
  const err = await guarded.catch((e) => e);
  expect(err).toBeInstanceOf(ApprovalNotGrantedError);
  expect(err.message).toBe('denied by bob@example.com: not during the freeze');
  expect(err.approval).toMatchObject({ id, approved: false, status: 'denied', deniers: ['bob@example.com'], reason: 'not during the freeze' });
  expect(ran).toBe(false);
});

test('a policy denial is answered at once, with the policy message', async () => {
  const approval = await client.requestApproval(input({ action: 'table.delete' }));
  expect(approval).toMatchObject({ approved: false, status: 'denied', summary: 'denied by policy: Deletes are never allowed for agents.' });
});

test("the caller's deadline returns the request still pending; an AbortSignal stops the wait", async () => {
  const approval = await client.requestApproval(input(), { wait: { timeoutMs: 1_500 } });
  expect(approval).toMatchObject({ approved: false, final: false, timedOut: true, status: 'pending' });
  expect(approval.summary).toContain('not approved yet');

  const abort = new AbortController();
  const waiting = client.requestApproval(input(), { wait: { signal: abort.signal } });
  setTimeout(() => abort.abort(new Error('the agent gave up')), 300);
  await expect(waiting).rejects.toThrow('the agent gave up');
});

test('a guarded action that fails is reported as failed and its error rethrown', async () => {
  const req = input({ action: 'table.read', environment: 'dev', risk: undefined });
  const err = await client.guard(req, () => {
    throw new Error('disk full');
  }).catch((e) => e);
  expect(err.message).toBe('disk full');
  const id = await submittedId(req.traceId!);
  expect((await t.call('GET', `/v1/requests/${id}`, { key: KEYS.agent })).body.outcomeReport).toMatchObject({ status: 'failed', detail: 'disk full' });
});

test('the same idempotency key returns the original request', async () => {
  const req = input();
  const key = `run-${randomUUID()}`;
  const first = await client.submit(req, { idempotencyKey: key });
  const again = await client.submit(req, { idempotencyKey: key });
  expect(again).toMatchObject({ id: first.id, replayed: true, idempotencyKey: key });
  expect(first.replayed).toBe(false);
});

test("errors carry the service's status, code and field", async () => {
  const bad = await client.submit({ ...input(), requester: { id: 'x', type: 'robot' as never } }).catch((e) => e);
  expect(bad).toBeInstanceOf(CountersignError);
  expect(bad).toMatchObject({ status: 400, code: 'validation_failed', field: 'requester.type' });

  const stranger = new CountersignClient({ baseUrl: t.baseUrl, apiKey: 'cs_not-a-key' });
  await expect(stranger.submit(input())).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  const reader = new CountersignClient({ baseUrl: t.baseUrl, apiKey: KEYS.reader });
  await expect(reader.submit(input())).rejects.toMatchObject({ status: 403, code: 'forbidden' });
  await expect(client.getApproval(randomUUID())).rejects.toMatchObject({ status: 404, code: 'not_found' });
  const down = new CountersignClient({ baseUrl: 'http://127.0.0.1:9', apiKey: KEYS.agent });
  await expect(down.submit(input())).rejects.toMatchObject({ status: 0, code: 'unreachable' });
});

test('a 429 with Retry-After (no long-poll slot free) is waited out, then the wait goes on', async () => {
  // This app allows one long-poll per key: hold it, so the client's first long-poll is refused with 429.
  const held = await client.submit(input());
  // Held long enough that a probe sees it however slowly this machine runs; the client outwaits it with Retry-After.
  const holding = fetch(`${t.baseUrl}/v1/requests/${held.id}?wait=8`, { headers: { authorization: `Bearer ${KEYS.agent}` } }).then((r) => r.json());
  await t.waitFor(async () => {
    const probe = await fetch(`${t.baseUrl}/v1/requests/${held.id}?wait=1`, { headers: { authorization: `Bearer ${KEYS.agent}` } });
    await probe.arrayBuffer();
    return probe.status === 429;
  }, 7_000, 'the held long-poll');

  const req = input();
  const refusals: number[] = [];
  const observed = new CountersignClient({
    baseUrl: t.baseUrl,
    apiKey: KEYS.agent,
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      if (res.status === 429) refusals.push(Number(res.headers.get('retry-after')));
      return res;
    },
  });
  const waiting = observed.requestApproval(req, { wait: { timeoutMs: 20_000 } });
  const id = await submittedId(req.traceId!);
  await vote(id, 'carol@example.com', 'approve');
  expect(await waiting).toMatchObject({ approved: true });
  expect(refusals.length).toBeGreaterThan(0);
  expect(refusals.every((s) => s >= 1)).toBe(true);
  await holding;
});

test("a service whose MAX_WAIT_SECONDS is below the client's long-poll gets shorter long-polls, not errors", async () => {
  const short = await startTestApp({ env: { MAX_WAIT_SECONDS: '2' } });
  try {
    const c = new CountersignClient({ baseUrl: short.baseUrl, apiKey: KEYS.agent });
    const approval = await c.requestApproval(input(), { wait: { timeoutMs: 3_500 } });
    expect(approval).toMatchObject({ status: 'pending', timedOut: true });
  } finally {
    await short.close();
  }
});
