import { buildApprovalView, type ApprovalView } from '../../src/domain/approval-view';
import { digestSensitive } from '../../src/domain/context-values';
import {
  neutralizeMarkdown,
  pendingReasonInputId,
  reasonFromAction,
  REASON_INPUT_ID,
  refreshUserIdsFor,
  renderApprovalCard,
  renderCommandCard,
} from '../../adapters/teams/teams-render';

const ID = '0b5e2a8c-3f1d-4e6a-9c7b-2d4f6a8b0c1e';
const created = new Date('2026-11-21T10:00:00.000Z');
const expires = new Date('2026-11-21T11:00:00.000Z');

function view(overrides: Partial<Parameters<typeof buildApprovalView>[0]> = {}, votes: Parameters<typeof buildApprovalView>[1] = []): ApprovalView {
  return buildApprovalView(
    {
      id: ID,
      status: 'pending',
      action: 'dataset.export',
      resource: 'warehouse://prod/customers',
      environment: 'production',
      risk: 'high',
      justification: 'Quarterly churn analysis, see [TICKET-4711](https://evil.example/phish)',
      requester: { id: 'etl-agent-7', type: 'agent', model: 'gpt-5-mini', email: 'etl-agent@example.com' },
      onBehalfOf: { email: 'frank@example.com', name: 'Frank' },
      context: { rows: 120000, dataset: 'customers', db_password: { sha256: digestSensitive(ID, 'hunter2') } },
      policyRule: 'two-person-export',
      approvalsRequired: 2,
      requirement: { approvers: ['approvers'], reason: 'on-deny' },
      createdAt: created,
      expiresAt: expires,
      decidedAt: null,
      decidedBy: null,
      decisionReason: null,
      traceId: 'trace-abc',
      ...overrides,
    },
    votes,
  );
}

/** Every element type a Teams client renders for Adaptive Cards 1.5 that the cards use. */
const KNOWN_TYPES = new Set(['TextBlock', 'FactSet', 'Container', 'Input.Text', 'Action.Execute']);

function walk(node: unknown, visit: (n: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) return node.forEach((n) => walk(n, visit));
  if (node && typeof node === 'object') {
    visit(node as Record<string, unknown>);
    Object.values(node).forEach((v) => walk(v, visit));
  }
}

function texts(card: object): string {
  const out: string[] = [];
  walk(card, (n) => {
    if (typeof n.text === 'string') out.push(n.text);
    if (typeof n.title === 'string' && typeof n.value === 'string') out.push(`${n.title}: ${n.value}`);
  });
  return out.join('\n');
}

describe('Teams approval card', () => {
  it('renders a pending request as an Adaptive Card 1.5 with every fact, the reason input, Approve/Deny and refresh', () => {
    const card = renderApprovalCard(view(), { refreshUserIds: ['8:orgid:00000000-0000-0000-0000-00000000e1e1'] });
    expect(card.type).toBe('AdaptiveCard');
    expect(card.version).toBe('1.5');
    walk(card.body, (n) => {
      if (typeof n.type === 'string' && n.type !== 'AdaptiveCard') expect(KNOWN_TYPES).toContain(n.type);
    });
    const all = texts(card);
    for (const expected of [
      'Action: dataset.export',
      'Resource: warehouse://prod/customers',
      'Environment: production',
      'Risk: high',
      'Requested by: etl-agent@example.com (agent, model gpt-5-mini)',
      'On behalf of: Frank',
      'Matched rule: two-person-export',
      'Approvals: 0 of 2 needed',
      'Approver groups: approvers',
      'Reason: required to deny',
      'Request id: ' + ID,
      'Trace id: trace-abc',
      'rows: 120000',
      'dataset: customers',
    ]) {
      expect(all).toContain(expected);
    }
    expect(all).toContain('Expires: {{DATE(2026-11-21T11:00:00Z, SHORT)}} {{TIME(2026-11-21T11:00:00Z)}}');
    // The sensitive value is masked, never shown.
    expect(all).not.toContain('hunter2');
    expect(all).toMatch(/db_password: •••••• \(sha256 [0-9a-f]{8}…\) \(masked\)/);
    // Agent text cannot form a markdown link.
    expect(all).toContain('Quarterly churn analysis, see [TICKET-4711]\u200b(https://evil.example/phish)');

    const input = card.body.find((e) => e.type === 'Input.Text')!;
    expect(input).toMatchObject({ id: REASON_INPUT_ID, isRequired: false, label: 'Reason (required to deny)' });
    expect(card.actions).toEqual([
      expect.objectContaining({ type: 'Action.Execute', verb: 'approve', title: 'Approve', data: { requestId: ID } }),
      expect.objectContaining({ type: 'Action.Execute', verb: 'deny', title: 'Deny', data: { requestId: ID } }),
    ]);
    expect(card.refresh).toEqual({
      action: { type: 'Action.Execute', title: 'Refresh', verb: 'refresh', data: { requestId: ID } },
      userIds: ['8:orgid:00000000-0000-0000-0000-00000000e1e1'],
    });
  });

  it('says why a routine request waits (budget exhausted) and, for stages, which stage is asked and what it still needs', () => {
    const card = renderApprovalCard(view({
      requirement: {
        approvers: ['owners', 'security'], reason: 'none', members: ['alice@example.com', 'dave@example.com'], approvals: 3, channels: [],
        budgetExhausted: { rule: 'routine-reads', count: 20, perSeconds: 3600, windowStart: created.toISOString(), windowEnd: expires.toISOString(), then: 'reads-past-budget' },
        stages: [
          { name: 'owners', approvers: ['owners'], quorum: [{ group: null, count: 1 }], members: ['alice@example.com'], groupMembers: {}, channels: [] },
          { name: 'security', approvers: ['security'], quorum: [{ group: 'security', count: 2 }], members: ['dave@example.com', 'erin@example.com'], groupMembers: { security: ['dave@example.com', 'erin@example.com'] }, channels: [] },
        ],
      },
    }, [{ personKey: 'alice@example.com', approver: { email: 'alice@example.com' }, channel: 'api', decision: 'approve', reason: null, at: created }]));
    const all = texts(card);
    expect(all).toContain('Budget exhausted: rule routine-reads approves at most 20 per 1h; escalated to reads-past-budget');
    expect(all).toContain('2 of 2 (security): security');
    expect(all).toContain('2 from security');
  });

  it('offers the standing-approval action only where the rule allows one', () => {
    const standing = renderApprovalCard(view({ requirement: { approvers: ['approvers'], reason: 'on-deny', standing: { maxForSeconds: 900, maxUses: 20 } } }));
    expect(standing.actions).toContainEqual(expect.objectContaining({ type: 'Action.Execute', verb: 'approve_standing', title: 'Approve + next 15m / 20 uses', data: { requestId: ID } }));
    const always = renderApprovalCard(view({ requirement: { approvers: ['approvers'], reason: 'on-deny', standing: { maxForSeconds: 900, maxUses: 20 }, alwaysAsk: true } }));
    expect((always.actions as { verb?: string }[]).map((a) => a.verb)).not.toContain('approve_standing');
  });

  it('requires the reason input when the rule demands a reason for every decision', () => {
    const card = renderApprovalCard(view({ requirement: { approvers: ['security'], reason: 'always' } }));
    expect(card.body.find((e) => e.type === 'Input.Text')).toMatchObject({ isRequired: true, label: 'Reason (required)' });
    // Without known Teams ids, Teams refreshes for everyone in small chats: no userIds at all.
    expect(card.refresh).toEqual({ action: expect.objectContaining({ verb: 'refresh' }) });
  });

  it('shows the votes so far and a per-user notice', () => {
    const card = renderApprovalCard(
      view({}, [{ personKey: 'alice@example.com', approver: { email: 'alice@example.com', name: 'Alice' }, channel: 'slack', decision: 'approve', reason: 'looks fine', at: new Date('2026-11-21T10:05:00Z') }]),
      { notice: { text: ':no_entry: Self-approval is not allowed: you are the requester.', tone: 'refused' } },
    );
    const all = texts(card);
    expect(all).toContain('Self-approval is not allowed: you are the requester.');
    expect(all).not.toContain(':no_entry:');
    expect(all).toContain('✅ **Alice** approved via slack');
    expect(all).toContain('"looks fine"');
    expect(all).toContain('Approvals: 1 of 2 needed');
    expect(card.body[0]).toMatchObject({ type: 'Container', style: 'attention' });
  });

  it('renders a final request without actions or refresh, with outcome, by whom, when and why', () => {
    const card = renderApprovalCard(
      view({ status: 'denied', decidedAt: new Date('2026-11-21T10:30:00Z'), decidedBy: 'Bob', decisionReason: 'Not during the freeze' }, [
        { personKey: 'bob@example.com', approver: { email: 'bob@example.com', name: 'Bob' }, channel: 'teams', decision: 'deny', reason: 'Not during the freeze', at: new Date('2026-11-21T10:30:00Z') },
      ]),
    );
    expect(card.actions).toEqual([]);
    expect(card.refresh).toBeUndefined();
    expect(card.body.some((e) => e.type === 'Input.Text')).toBe(false);
    const all = texts(card);
    expect(all).toContain('Denied: dataset.export');
    expect(all).toContain('Outcome: Denied');
    expect(all).toContain('By: Bob');
    expect(all).toContain('When: {{DATE(2026-11-21T10:30:00Z, SHORT)}}');
    expect(all).toContain('Why: Not during the freeze');
  });

  it('maps policy members known by Teams id to refresh MRIs, at most 60', () => {
    const many = Array.from({ length: 70 }, (_, i) => `teams:00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
    const ids = refreshUserIdsFor(['alice@example.com', 'slack:U1', ...many]);
    expect(ids).toHaveLength(60);
    expect(ids[0]).toBe('8:orgid:00000000-0000-0000-0000-000000000000');
  });

  it('breaks markdown links and leaves plain brackets and parentheses alone', () => {
    expect(neutralizeMarkdown('a [b](c) d')).toBe('a [b]\u200b(c) d');
    expect(neutralizeMarkdown('plain (text) [x]')).toBe('plain (text) [x]');
  });
});

describe('Teams command card', () => {
  it('renders a trail with the request facts and its events', () => {
    const v = view();
    const card = renderCommandCard({
      kind: 'trail',
      request: v,
      events: [
        { seq: '1', requestId: ID, type: 'request.created', actor: { key: 'agent:etl-agent-7', ids: [] }, channel: 'api', at: '2026-11-21T10:00:00.000Z', data: { outcome: 'require', rule: 'two-person-export' }, payload: '', leafIndex: null, leafHash: null },
        { seq: '2', requestId: ID, type: 'vote.refused', actor: { key: 'frank@example.com', ids: [], label: 'Frank' }, channel: 'teams', at: '2026-11-21T10:01:00.000Z', data: { refusal: 'self_approval', approver: { email: 'frank@example.com' } }, payload: '', leafIndex: null, leafHash: null },
      ],
    });
    const all = texts(card);
    expect(all).toContain(`Audit trail of request ${ID}`);
    expect(all).toContain('Action: dataset.export');
    expect(all).toContain('**request.created** · agent:etl-agent-7 · via api');
    expect(all).toContain('**vote.refused** · Frank (frank@example.com) · via teams');
    expect(all).toContain('refusal: self_approval');
  });

  it('offers Approve and Deny on every pending entry, as Slack does, each with its own reason input', () => {
    const other = view({ id: '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f', action: 'iam.grant', requirement: { approvers: ['security'], reason: 'always' } });
    const card = renderCommandCard({ kind: 'pending', items: [view(), other] });
    const all = texts(card);
    expect(all).toContain('Requests you can approve (2)');
    expect(all).toContain(`Request id: ${ID}`);
    const actionSets: Record<string, unknown>[] = [];
    const inputs: Record<string, unknown>[] = [];
    walk(card.body, (n) => {
      if (n.type === 'ActionSet') actionSets.push(n);
      if (n.type === 'Input.Text') inputs.push(n);
    });
    expect(actionSets.map((a) => a.actions)).toEqual([
      [
        expect.objectContaining({ type: 'Action.Execute', verb: 'approve', data: { requestId: ID } }),
        expect.objectContaining({ type: 'Action.Execute', verb: 'deny', data: { requestId: ID } }),
      ],
      [
        expect.objectContaining({ type: 'Action.Execute', verb: 'approve', data: { requestId: other.id } }),
        expect.objectContaining({ type: 'Action.Execute', verb: 'deny', data: { requestId: other.id } }),
      ],
    ]);
    expect(inputs.map((i) => i.id)).toEqual([pendingReasonInputId(ID), pendingReasonInputId(other.id)]);
    // A required input would block every other entry's buttons: the core enforces the reason rule instead.
    expect(inputs.every((i) => i.isRequired === false && i.maxLength === 2000)).toBe(true);
    expect(reasonFromAction({ requestId: other.id, [pendingReasonInputId(ID)]: 'not this one', [pendingReasonInputId(other.id)]: ' because ' }, other.id)).toBe('because');
    expect(reasonFromAction({ requestId: ID, [REASON_INPUT_ID]: 'from the card' }, ID)).toBe('from the card');
  });

  it('renders refusals and help', () => {
    expect(texts(renderCommandCard({ kind: 'refused', message: 'You are not allowed to look up the audit trail.' }))).toContain('You are not allowed');
    expect(texts(renderCommandCard({ kind: 'help', lines: ['pending — requests you can approve now'] }))).toContain('• pending — requests you can approve now');
  });
});
