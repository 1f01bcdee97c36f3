import { evaluateVote, type ApprovalSubject, type CountedVote } from '../../src/domain/approval';

const now = new Date('2026-11-21T12:00:00Z');
const subject = (over: Partial<ApprovalSubject> = {}): ApprovalSubject => ({
  id: 'r1',
  status: 'pending',
  requester: { id: 'agent-1', email: 'agent@example.com' },
  onBehalfOf: { email: 'owner@example.com', slackUserId: 'U0000OWNER' },
  keyOwnerEmail: 'keyowner@example.com',
  apiKeyId: 'key-1',
  expiresAt: new Date(now.getTime() + 60_000),
  requirement: { approvers: ['g'], members: ['alice@example.com', 'bob@example.com', 'slack:U0000CAROL', 'owner@example.com'], approvals: 2, channels: [], reason: 'on-deny' },
  ...over,
});
const vote = (personKey: string, decision: 'approve' | 'deny' = 'approve', channel: CountedVote['channel'] = 'api'): CountedVote => ({
  personKey, approver: { email: personKey }, channel, decision, at: now,
});

describe('evaluateVote', () => {
  it('counts distinct people toward the quorum', () => {
    const first = evaluateVote(subject(), [], { approver: { email: 'alice@example.com' }, channel: 'slack', decision: 'approve' }, now);
    expect(first).toMatchObject({ outcome: 'accepted', status: 'pending', approvals: 1 });
    const second = evaluateVote(subject(), [vote('alice@example.com')], { approver: { slackUserId: 'U0000CAROL' }, channel: 'slack', decision: 'approve' }, now);
    expect(second).toMatchObject({ outcome: 'accepted', status: 'approved', approvals: 2 });
  });

  it('refuses a second vote by the same person on another channel', () => {
    const res = evaluateVote(subject(), [vote('alice@example.com', 'approve', 'slack')], { approver: { email: 'Alice@Example.com', teamsUserId: 'T1' }, channel: 'teams', decision: 'deny', reason: 'x' }, now);
    expect(res).toMatchObject({ outcome: 'refused', refusal: 'already_voted' });
  });

  it.each([
    [{ email: 'agent@example.com' }, 'the requester'],
    [{ slackUserId: 'U0000OWNER' }, 'on behalf of'],
    [{ email: 'KEYOWNER@example.com' }, 'owner of the API key'],
  ])('refuses self-approval for %o', (approver, words) => {
    const res = evaluateVote(subject(), [], { approver, channel: 'api', decision: 'approve' }, now);
    expect(res.outcome).toBe('refused');
    expect(res.outcome === 'refused' && res.refusal).toBe('self_approval');
    expect(res.outcome === 'refused' && res.message).toContain(words);
  });

  it('refuses the submitting API key', () => {
    const res = evaluateVote(subject(), [], { approver: { email: 'bob@example.com' }, channel: 'api', decision: 'approve', apiKeyId: 'key-1' }, now);
    expect(res).toMatchObject({ outcome: 'refused', refusal: 'self_approval' });
  });

  it('denies on one eligible deny with a reason, and requires the reason', () => {
    expect(evaluateVote(subject(), [], { approver: { email: 'bob@example.com' }, channel: 'api', decision: 'deny' }, now)).toMatchObject({ refusal: 'reason_required' });
    expect(evaluateVote(subject(), [vote('alice@example.com')], { approver: { email: 'bob@example.com' }, channel: 'api', decision: 'deny', reason: 'no' }, now)).toMatchObject({ status: 'denied' });
  });

  it('refuses after expiry, on final requests and for non-members, in that order of precedence', () => {
    const late = new Date(now.getTime() + 61_000);
    expect(evaluateVote(subject(), [], { approver: { email: 'bob@example.com' }, channel: 'api', decision: 'approve' }, late)).toMatchObject({ refusal: 'expired', expireNow: true });
    expect(evaluateVote(subject({ status: 'approved' }), [], { approver: { email: 'agent@example.com' }, channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'already_decided' });
    expect(evaluateVote(subject(), [], { approver: { email: 'mallory@example.com' }, channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'not_eligible' });
    expect(evaluateVote(subject(), [], { approver: {}, channel: 'api', decision: 'approve' }, now)).toMatchObject({ refusal: 'unidentified' });
  });
});
