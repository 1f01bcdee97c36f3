/**
 * Every bad input is a 4xx naming the field, and writes nothing: characters PostgreSQL refuses (NUL, unpaired
 * surrogates) anywhere in bodies, query strings, paths and context objects; malformed cursors; out-of-range numbers
 * and dates.
 */
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const counts = async () => ({ requests: await t.db.approvalRequest.count(), audit: await t.db.auditEvent.count() });
const b64 = (s: string) => Buffer.from(s).toString('base64url');

describe('characters PostgreSQL refuses', () => {
  const NUL = '\u0000';
  const LONE = '\ud800';
  it.each([
    ['justification', { justification: `a${NUL}b` }],
    ['resource', { resource: `warehouse://${NUL}` }],
    ['requester.id', { requester: { id: `agent${NUL}`, type: 'agent' } }],
    ['requester.model', { requester: { id: 'agent', type: 'agent', model: `m${LONE}` } }],
    ['onBehalfOf.name', { onBehalfOf: { email: 'frank@example.com', name: `F${NUL}` } }],
    ['context.note', { context: { note: `x${NUL}y` } }],
    ['context', { context: { [`k${NUL}`]: 'v' } }],
    ['context.note', { context: { note: `surrogate ${LONE} alone` } }],
    ['environment', { environment: `prod${NUL}` }],
    ['traceId', { traceId: `t${NUL}` }],
  ])('intake: %s', async (field, overrides) => {
    const before = await counts();
    const res = await t.submit(baseRequest(overrides));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', field });
    expect(await counts()).toEqual(before);
  });

  it('votes, cancellations and outcome reports', async () => {
    // No chat channel: nothing is delivered (and audited) in the background while we count.
    const { body } = await t.submit(baseRequest({ action: 'deploy.service' }));
    const before = await counts();
    const vote = await t.call('POST', `/v1/requests/${body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'deny', reason: `no${NUL}` } });
    expect(vote.status).toBe(400);
    expect(vote.body.error.field).toBe('reason');
    const cancel = await t.call('POST', `/v1/requests/${body.id}/cancel`, { key: t.keys.agent, body: { reason: `x${NUL}` } });
    expect(cancel.status).toBe(400);
    expect(cancel.body.error.field).toBe('reason');
    const outcome = await t.call('POST', `/v1/requests/${body.id}/outcome`, { key: t.keys.agent, body: { status: 'failed', detail: `d${NUL}` } });
    expect(outcome.status).toBe(400);
    expect(outcome.body.error.field).toBe('detail');
    const person = await t.call('POST', '/v1/people', { body: { id: 'nul-person', name: `N${NUL}`, identities: ['nul@example.com'] } });
    expect(person.status).toBe(400);
    expect(person.body.error.field).toBe('name');
    expect(await counts()).toEqual(before);
  });

  it.each([
    ['/v1/requests?action=%00', 'action'],
    ['/v1/requests?requester=a%00b', 'requester'],
    ['/v1/requests?traceId=%00', 'traceId'],
    ['/v1/audit?requester=%00', 'requester'],
    ['/v1/audit?action=x%00', 'action'],
    ['/v1/audit?type=%00', 'type'],
  ])('query string %s', async (url, field) => {
    const res = await t.call('GET', url);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', field });
  });

  it('paths', async () => {
    const before = await counts();
    expect((await t.call('DELETE', '/v1/people/x%00y')).status).toBeLessThan(500);
    expect((await t.call('POST', '/v1/people/x%00y/identities', { body: { identity: 'a@example.com' } })).status).toBeLessThan(500);
    expect((await t.call('DELETE', '/v1/people/alice/identities/a%00b')).status).toBeLessThan(500);
    const badUtf8 = await t.call('POST', '/v1/requests/%ED%A0%80/cancel', { key: t.keys.agent, body: {} });
    expect(badUtf8.status).toBe(400);
    expect(badUtf8.body.error.code).toBe('invalid_url');
    expect(await counts()).toEqual(before);
  });
});

describe('malformed cursors', () => {
  it.each([
    ['/v1/requests', b64(`1e400|${'0'.repeat(8)}-0000-4000-8000-000000000000`)],
    ['/v1/requests', b64('99999999999999999|00000000-0000-4000-8000-000000000000')],
    ['/v1/requests', b64('-99999999999999|00000000-0000-4000-8000-000000000000')],
    ['/v1/requests', 'not-a-cursor'],
    ['/v1/audit', '99999999999999999999999999'],
    ['/v1/audit', '-1'],
    ['/v1/audit/checkpoints', '99999999999999999999999999'],
  ])('%s?cursor=%s', async (path, cursor) => {
    const res = await t.call('GET', `${path}?cursor=${encodeURIComponent(cursor)}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_cursor', field: 'cursor' });
  });
});

describe('out-of-range numbers and dates', () => {
  it.each([
    ['/v1/audit?since=-200000-01-01T00:00:00Z', 'since'],
    ['/v1/audit?until=275760-09-13T00:00:00Z', 'until'],
    ['/v1/audit?since=99999-01-01', 'since'],
    ['/v1/evidence?since=-100000-01-01T00:00:00Z', 'since'],
    ['/v1/audit?limit=1e400', 'limit'],
    ['/v1/audit/consistency?from=1e400', 'from'],
    ['/v1/audit/proof?event=1&treeSize=99999999999999999999', 'treeSize'],
    ['/v1/requests/00000000-0000-4000-8000-000000000000?wait=1e400', 'wait'],
  ])('%s', async (url, field) => {
    const res = await t.call('GET', url);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', field });
  });

  it('intake numbers', async () => {
    const before = await counts();
    for (const [overrides, field] of [
      [{ expiresInSeconds: 1e300 }, 'expiresInSeconds'],
      [{ context: { big: 1e308, n: -1e308 } }, undefined],
    ] as const) {
      const res = await t.submit(baseRequest(overrides));
      if (field) {
        expect(res.status).toBe(400);
        expect(res.body.error.field).toBe(field);
      } else {
        expect(res.status).toBe(202);
      }
    }
    expect((await counts()).requests).toBe(before.requests + 1);
  });
});
