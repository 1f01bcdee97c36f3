import { assignQuorum, evaluateVote, requirementStages, stageProgress, type ApprovalSubject, type CountedVote, type Voter } from '../../src/domain/approval';

const now = new Date('2026-11-21T12:00:00Z');
const subject = (over: Partial<ApprovalSubject> = {}): ApprovalSubject => ({
  id: 'r1',
  status: 'pending',
  parties: { requester: ['agent@example.com'], onBehalfOf: ['owner'], keyOwner: ['keyowner'] },
  apiKeyId: 'key-1',
  expiresAt: new Date(now.getTime() + 60_000),
  requirement: { approvers: ['g'], members: ['alice', 'bob', 'carol', 'owner'], approvals: 2, channels: [], reason: 'on-deny' },
  ...over,
});
/** A voter the directory knows as `personId`. */
const as = (personId: string, over: Partial<Voter> = {}): Voter => ({ personId, known: true, approver: { name: personId }, ...over });
const vote = (personKey: string, decision: 'approve' | 'deny' = 'approve', channel: CountedVote['channel'] = 'api'): CountedVote => ({
  personKey, approver: { name: personKey }, channel, decision, at: now,
});

describe('evaluateVote', () => {
  it('counts distinct people toward the quorum', () => {
    const first = evaluateVote(subject(), [], { voter: as('alice'), channel: 'slack', decision: 'approve' }, now);
    expect(first).toMatchObject({ outcome: 'accepted', status: 'pending', approvals: 1 });
    const second = evaluateVote(subject(), [vote('alice')], { voter: as('carol'), channel: 'slack', decision: 'approve' }, now);
    expect(second).toMatchObject({ outcome: 'accepted', status: 'approved', approvals: 2 });
  });

  it('refuses a second vote by the same person on another channel', () => {
    const res = evaluateVote(subject(), [vote('alice', 'approve', 'slack')], { voter: as('alice'), channel: 'teams', decision: 'deny', reason: 'x' }, now);
    expect(res).toMatchObject({ outcome: 'refused', refusal: 'already_voted' });
  });

  it.each([
    ['agent@example.com', 'the requester'],
    ['owner', 'on behalf of'],
    ['keyowner', 'owner of the API key'],
  ])('refuses self-approval for %s', (personId, words) => {
    const res = evaluateVote(subject(), [], { voter: as(personId), channel: 'api', decision: 'approve' }, now);
    expect(res.outcome).toBe('refused');
    expect(res.outcome === 'refused' && res.refusal).toBe('self_approval');
    expect(res.outcome === 'refused' && res.message).toContain(words);
  });

  it('refuses the submitting API key, and any key of the same owner', () => {
    const viaSubmitter = as('bob', { viaKey: { id: 'key-1', name: 'agent', ownerPersonId: 'someone', attested: true } });
    expect(evaluateVote(subject(), [], { voter: viaSubmitter, channel: 'api', decision: 'approve' }, now)).toMatchObject({ outcome: 'refused', refusal: 'self_approval' });
    const sibling = as('bob', { viaKey: { id: 'key-2', name: 'portal', ownerPersonId: 'keyowner', attested: true } });
    expect(evaluateVote(subject(), [], { voter: sibling, channel: 'api', decision: 'approve' }, now)).toMatchObject({ outcome: 'refused', refusal: 'self_approval' });
  });

  it('lets a decide key vote only as its owner', () => {
    const owner = as('bob', { viaKey: { id: 'key-3', name: 'bob-key', ownerPersonId: 'bob', attested: false } });
    expect(evaluateVote(subject(), [], { voter: owner, claimedPersonId: 'carol', channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'approver_mismatch' });
    expect(evaluateVote(subject(), [], { voter: owner, claimedPersonId: 'bob', channel: 'api', decision: 'approve' }, now)).toMatchObject({ outcome: 'accepted' });
  });

  it('records who attested a vote', () => {
    const res = evaluateVote(subject(), [], { voter: as('bob', { viaKey: { id: 'key-2', name: 'portal', ownerPersonId: 'portal-admin', attested: true } }), channel: 'api', decision: 'approve' }, now);
    expect(res.outcome === 'accepted' && res.vote.attestedBy).toBe('portal');
  });

  it('denies on one eligible deny with a reason, and requires the reason', () => {
    expect(evaluateVote(subject(), [], { voter: as('bob'), channel: 'api', decision: 'deny' }, now)).toMatchObject({ refusal: 'reason_required' });
    expect(evaluateVote(subject(), [vote('alice')], { voter: as('bob'), channel: 'api', decision: 'deny', reason: 'no' }, now)).toMatchObject({ status: 'denied' });
  });

  it('refuses after expiry, on final requests, unknown people and non-members, in that order of precedence', () => {
    const late = new Date(now.getTime() + 61_000);
    expect(evaluateVote(subject(), [], { voter: as('bob'), channel: 'api', decision: 'approve' }, late)).toMatchObject({ refusal: 'expired', expireNow: true });
    expect(evaluateVote(subject({ status: 'approved' }), [], { voter: as('agent@example.com'), channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'already_decided' });
    expect(evaluateVote(subject(), [], { voter: as('slack:U0000OWNER', { known: false }), channel: 'slack', decision: 'approve' }, now)).toMatchObject({ refusal: 'unknown_approver' });
    expect(evaluateVote(subject(), [], { voter: as('mallory'), channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'not_eligible' });
    expect(evaluateVote(subject(), [], { voter: null, channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'unidentified' });
  });

  it('refuses self-approval before it says the person is unknown', () => {
    const res = evaluateVote(subject({ parties: { requester: [], onBehalfOf: ['frank@example.com'], keyOwner: [] } }), [], { voter: as('frank@example.com', { known: false }), channel: 'api', decision: 'approve' }, now);
    expect(res).toMatchObject({ refusal: 'self_approval' });
  });
});

describe('per-group quorums and stages', () => {
  const stage = (quorum: { group: string | null; count: number }[], groupMembers: Record<string, string[]>) => ({
    approvers: Object.keys(groupMembers), quorum, members: [...new Set(Object.values(groupMembers).flat())], groupMembers, channels: [],
  });

  it('re-assigns a person in two groups so that both groups are filled (augmenting path)', () => {
    // x is in both groups, y only in `a`: x first takes `a`, then y's arrival moves x to `b`.
    const s = stage([{ group: 'a', count: 1 }, { group: 'b', count: 1 }], { a: ['x', 'y'], b: ['x'] });
    expect(assignQuorum(s, ['x'])).toEqual({ filled: 1, missing: [{ group: 'b', count: 1 }] });
    expect(assignQuorum(s, ['x', 'y'])).toEqual({ filled: 2, missing: [] });
    // Two people who can only fill `a` never fill `b`.
    expect(assignQuorum(s, ['y', 'z']).missing).toEqual([{ group: 'b', count: 1 }]);
  });

  it('counts each approval toward the stage asked when it was cast', () => {
    const requirement = {
      approvers: ['a', 'b'], members: ['x', 'y', 'z'], approvals: 2, channels: [], reason: 'none' as const,
      stages: [stage([{ group: null, count: 1 }], { a: ['x', 'y'] }), stage([{ group: null, count: 1 }], { b: ['x', 'z'] })],
    };
    expect(stageProgress(requirement, [])).toMatchObject({ current: 0, missing: [{ group: null, count: 1 }] });
    expect(stageProgress(requirement, [vote('x')])).toMatchObject({ current: 1, counted: [['x'], []] });
    expect(stageProgress(requirement, [vote('x'), vote('z')])).toMatchObject({ current: 2, missing: [] });
    const s2 = subject({ requirement });
    // y is only in stage 1, which is done; x already counted in stage 1.
    expect(evaluateVote(s2, [vote('x')], { voter: as('y'), channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'not_eligible' });
    expect(evaluateVote(s2, [vote('x')], { voter: as('x'), channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'already_voted' });
    expect(evaluateVote(s2, [], { voter: as('x'), channel: 'api', decision: 'approve' }, now)).toMatchObject({ status: 'pending', stage: 1, stageAdvanced: true });
    expect(evaluateVote(s2, [vote('x')], { voter: as('z'), channel: 'api', decision: 'approve' }, now)).toMatchObject({ status: 'approved', stage: 2, stageAdvanced: false });
  });

  it('keeps a plain rule as it was: any n distinct members', () => {
    const plain = subject().requirement!;
    expect(requirementStages(plain)).toEqual([{ approvers: ['g'], quorum: [{ group: null, count: 2 }], members: plain.members, groupMembers: {}, channels: [] }]);
  });
});

describe('vote time', () => {
  it('records a vote after every vote already recorded, even when its clock read was earlier', () => {
    const later = new Date(now.getTime() + 5);
    const res = evaluateVote(subject(), [{ ...vote('alice'), at: later }], { voter: as('carol'), channel: 'api', decision: 'approve' }, now);
    expect(res.outcome === 'accepted' && res.vote.at.getTime()).toBe(later.getTime() + 1);
    const plain = evaluateVote(subject(), [vote('alice')], { voter: as('carol'), channel: 'api', decision: 'approve' }, later);
    expect(plain.outcome === 'accepted' && plain.vote.at).toEqual(later);
  });
});
