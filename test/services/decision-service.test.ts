/**
 * The decision service's logic on an in-memory store: what each change writes, which state version it announces, and
 * what it refuses. The same rules run against PostgreSQL in test/api/request-lifecycle.test.ts.
 */
import { Directory } from '../../src/domain/people';
import { createDecisionService, type VoteInput } from '../../src/services/decision-service';
import { createMemoryRequestStore, type MemoryRequest } from '../fakes/memory-request-store';

const now = new Date('2026-11-28T12:00:00Z');

function setup(over: Partial<MemoryRequest> = {}) {
  const store = createMemoryRequestStore();
  const changed: [string, string][] = [];
  const published: [string, string][] = [];
  const decided: string[] = [];
  const released: string[] = [];
  const people = Directory.build([], [
    { kind: 'email', value: 'alice@example.com' },
    { kind: 'email', value: 'bob@example.com' },
  ]);
  if (!people.ok) throw new Error(people.problems.join('; '));
  const dir = people.directory;
  const service = createDecisionService({
    requests: store,
    directory: {
      current: () => dir,
      identify: async (p) => {
        const person = dir.identify(p, { linkByEmail: true }).person;
        const alsoKnownAs = (p.asserted ?? []).map((i) => dir.personIdOf(i));
        return { person, personId: person?.id ?? alsoKnownAs[0] ?? null, alsoKnownAs };
      },
      personIdOf: (ref) => (ref ? (dir.resolveRef(ref)?.id ?? ref) : null),
    },
    jobs: { requestChanged: async (id, version) => void changed.push([id, version]), requestOpened: async () => undefined },
    events: { publishChanged: async (id, status) => void published.push([id, status]) },
    pending: { release: async (keyId) => void released.push(keyId) },
    clock: () => now,
    onDecision: (s) => decided.push(s),
  });
  const request: MemoryRequest = {
    id: 'r1',
    status: 'pending',
    action: 'dataset.export',
    resource: 'warehouse://prod/customers',
    environment: 'production',
    requesterId: 'agent-1',
    requesterType: 'agent',
    policyRule: 'r',
    requester: { id: 'agent-1', email: 'agent@example.com' },
    onBehalfOf: { email: 'frank@example.com' },
    keyOwner: 'owner@example.com',
    requesterPerson: 'agent@example.com',
    onBehalfOfPerson: 'frank@example.com',
    keyOwnerPerson: 'owner@example.com',
    apiKeyId: 'key-1',
    expiresAt: new Date(now.getTime() + 60_000),
    createdAt: new Date(now.getTime() - 30_000),
    requirement: { approvers: ['g'], members: ['alice@example.com', 'bob@example.com'], approvals: 2, channels: [], reason: 'on-deny' },
    approvalsRequired: 2,
    outcomeReport: null,
    policyOutcome: 'require',
    decidedAt: null,
    decidedBy: null,
    decisionReason: null,
    ...over,
  };
  store.requests.set(request.id, request);
  return { store, service, changed, published, decided, released };
}

/** A vote through the API by an attesting integration naming `email`. */
const byEmail = (email: string, rest: Omit<VoteInput, 'presented' | 'approver'>): VoteInput => ({
  presented: { asserted: [{ kind: 'email', value: email }] },
  approver: { email },
  ...rest,
});

describe('decision service', () => {
  it('counts a quorum of two and announces each new state version after the change', async () => {
    const { store, service, changed, published, decided, released } = setup();
    const first = await service.vote('r1', byEmail('alice@example.com', { channel: 'api', decision: 'approve' }));
    expect(first).toMatchObject({ outcome: 'accepted', status: 'pending', approvals: 1, approvalsRequired: 2 });
    const second = await service.vote('r1', byEmail('bob@example.com', { channel: 'slack', decision: 'approve' }));
    expect(second).toMatchObject({ outcome: 'accepted', status: 'approved', approvals: 2 });
    expect(changed).toEqual([['r1', 'pending:1'], ['r1', 'approved:2']]);
    expect(published.map(([, s]) => s)).toEqual(['pending', 'approved']);
    expect(decided).toEqual(['approved']);
    // The key's pending slot comes back once, when the request leaves pending.
    expect(released).toEqual(['key-1']);
    expect(store.requests.get('r1')).toMatchObject({ status: 'approved', decidedBy: 'alice@example.com, bob@example.com' });
    expect(store.audit.map((e) => e.type)).toEqual(['vote.cast', 'vote.cast', 'request.decided']);
  });

  it('records a refusal without announcing a change', async () => {
    const { store, service, changed } = setup();
    const res = await service.vote('r1', byEmail('frank@example.com', { channel: 'api', decision: 'approve' }));
    expect(res).toMatchObject({ outcome: 'refused', refusal: 'self_approval', status: 'pending' });
    expect(changed).toEqual([]);
    expect(store.audit.map((e) => e.type)).toEqual(['vote.refused']);
    expect(store.votes.get('r1')).toEqual([]);
  });

  it('expires an overdue request when a vote reveals it, and announces the expiry', async () => {
    const { store, service, changed } = setup({ expiresAt: new Date(now.getTime() - 1) });
    const res = await service.vote('r1', byEmail('alice@example.com', { channel: 'teams', decision: 'approve' }));
    expect(res).toMatchObject({ outcome: 'refused', refusal: 'expired', status: 'expired' });
    expect(changed).toEqual([['r1', 'expired:0']]);
    expect(store.audit.map((e) => [e.type, e.data.detectedBy])).toEqual([['vote.refused', undefined], ['request.expired', 'vote']]);
  });

  it('expires by timer exactly once, however often it is asked', async () => {
    const { store, service, changed } = setup({ expiresAt: now });
    expect(await service.expireIfDue('r1')).toBe(true);
    expect(await service.expireIfDue('r1')).toBe(false);
    expect(changed).toEqual([['r1', 'expired:0']]);
    expect(store.requests.get('r1')).toMatchObject({ status: 'expired', decisionReason: 'No decision before the request expired' });
  });

  it('does not expire a request before its time', async () => {
    const { service, changed } = setup();
    expect(await service.expireIfDue('r1')).toBe(false);
    expect(changed).toEqual([]);
  });

  it('lets only the submitting key cancel, once, and writes nothing when it refuses', async () => {
    const { store, service } = setup();
    await expect(service.cancel('r1', 'key-2', { key: 'key:other' })).rejects.toMatchObject({ code: 'forbidden' });
    expect(store.audit).toEqual([]);
    expect(await service.cancel('r1', 'key-1', { key: 'key:agent' }, 'not needed')).toEqual({ status: 'cancelled' });
    await expect(service.cancel('r1', 'key-1', { key: 'key:agent' })).rejects.toMatchObject({ code: 'already_decided' });
  });

  it('takes one outcome report, from the submitter, on an approved request only', async () => {
    const { store, service } = setup();
    await expect(service.reportOutcome('r1', 'key-1', { key: 'key:agent' }, { status: 'succeeded' })).rejects.toMatchObject({ code: 'not_approved' });
    store.requests.get('r1')!.status = 'approved';
    await expect(service.reportOutcome('r1', 'key-9', { key: 'key:x' }, { status: 'succeeded' })).rejects.toMatchObject({ code: 'forbidden' });
    await service.reportOutcome('r1', 'key-1', { key: 'key:agent' }, { status: 'succeeded', detail: 'done' });
    expect(store.requests.get('r1')!.outcomeReport).toMatchObject({ status: 'succeeded', detail: 'done', reportedAt: now.toISOString() });
    await expect(service.reportOutcome('r1', 'key-1', { key: 'key:agent' }, { status: 'failed' })).rejects.toMatchObject({ code: 'outcome_already_reported' });
  });

  it('answers not_found for an unknown request', async () => {
    const { service } = setup();
    await expect(service.vote('nope', byEmail('alice@example.com', { channel: 'api', decision: 'approve' }))).rejects.toMatchObject({ code: 'not_found' });
  });
});
