import { buildApprovalView, type ApprovalView, type ApprovalViewSource } from '../../src/domain/approval-view';
import type { CountedVote } from '../../src/domain/approval';
import type { AuditRecord } from '../../src/services/audit-service';
import { ACTIONS, parseReasonMetadata, renderApprovalCard, renderCommandResult, renderOutcomeNotice, renderReasonModal } from '../../adapters/slack/slack-render';

const ID = '5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e5f';

function source(over: Partial<ApprovalViewSource> = {}): ApprovalViewSource {
  return {
    id: ID,
    status: 'pending',
    action: 'dataset.export',
    resource: 'warehouse://prod/customers',
    environment: 'production',
    risk: 'high',
    justification: 'Quarterly churn analysis <!channel> & more',
    requester: { id: 'etl-agent-7', type: 'agent', model: 'gpt-5-mini', email: 'etl-agent@example.com' },
    onBehalfOf: { email: 'frank@example.com', name: 'Frank' },
    context: { rows: 120000, dataset: 'customers', db_password: { sha256: 'abcdef0123456789' } },
    policyRule: 'two-person-export',
    approvalsRequired: 2,
    requirement: { approvers: ['approvers'], reason: 'on-deny' },
    createdAt: new Date('2030-01-01T10:00:00Z'),
    expiresAt: new Date('2030-01-01T11:00:00Z'),
    decidedAt: null,
    decidedBy: null,
    decisionReason: null,
    traceId: 'trace-42',
    ...over,
  };
}

const vote = (name: string, decision: 'approve' | 'deny', reason: string | null = null): CountedVote => ({
  personKey: `${name}@example.com`, approver: { email: `${name}@example.com`, name }, channel: 'slack', decision, reason, at: new Date('2030-01-01T10:05:00Z'),
});

const json = (x: unknown) => JSON.stringify(x);
const blocksOfType = (blocks: any[], type: string) => blocks.filter((b) => b.type === type);

describe('Slack approval card', () => {
  it('shows every fact of a pending request and both buttons carrying the request id', () => {
    const view = buildApprovalView(source(), []);
    const { text, blocks } = renderApprovalCard(view);
    const all = json(blocks);
    expect(blocks[0]).toMatchObject({ type: 'header', text: { text: 'Approval needed: dataset.export' } });
    for (const fact of [
      'etl-agent@example.com (agent, model gpt-5-mini)', 'Frank', 'warehouse://prod/customers', 'production', 'high',
      'two-person-export', '0 of 2', 'rows', '120000', 'dataset', 'customers', 'db_password', ID, 'approvers', 'trace-42',
      '2030-01-01T11:00:00.000Z',
    ]) expect(all).toContain(fact);
    expect(all).toContain('Quarterly churn analysis &lt;!channel&gt; &amp; more');
    expect(all).not.toContain('<!channel>');
    expect(all).toContain('sha256 abcdef01');
    const [actions] = blocksOfType(blocks, 'actions');
    expect(actions.elements).toEqual([
      expect.objectContaining({ action_id: ACTIONS.approve, style: 'primary', value: ID }),
      expect.objectContaining({ action_id: ACTIONS.deny, style: 'danger', value: ID }),
    ]);
    expect(text).toContain('dataset.export');
  });

  it('asks for a reason on Approve when the rule says reason: always', () => {
    const view = buildApprovalView(source({ requirement: { approvers: ['security'], reason: 'always' } }), []);
    const [actions] = blocksOfType(renderApprovalCard(view).blocks, 'actions');
    expect(actions.elements[0].action_id).toBe(ACTIONS.approveWithReason);
  });

  it('shows progress and who voted while pending', () => {
    const view = buildApprovalView(source(), [vote('alice', 'approve')]);
    const all = json(renderApprovalCard(view).blocks);
    expect(all).toContain('1 of 2');
    expect(all).toContain('*alice* approved via slack');
    expect(blocksOfType(renderApprovalCard(view).blocks, 'actions')).toHaveLength(1);
  });

  it('drops the buttons once final and says the outcome, by whom, when and why', () => {
    const view = buildApprovalView(
      source({ status: 'denied', decidedAt: new Date('2030-01-01T10:06:00Z'), decidedBy: 'bob', decisionReason: 'Not this quarter' }),
      [vote('bob', 'deny', 'Not this quarter')],
    );
    const { blocks, text } = renderApprovalCard(view);
    expect(blocksOfType(blocks, 'actions')).toHaveLength(0);
    const all = json(blocks);
    expect(all).toContain('*Denied* by bob');
    expect(all).toContain('2030-01-01T10:06:00.000Z');
    expect(all).toContain('Not this quarter');
    expect((blocks[0] as any).text.text).toBe('Denied: dataset.export');
    expect(text).toContain('Denied by bob');
  });

  it('stays within Slack limits with a huge context', () => {
    const context: Record<string, string> = {};
    for (let i = 0; i < 400; i++) context[`key_${i}`] = 'x'.repeat(300);
    const { blocks } = renderApprovalCard(buildApprovalView(source({ context }), []));
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const b of blocks as any[]) if (b.type === 'section' && b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
    expect(blocksOfType(blocks, 'actions')).toHaveLength(1);
  });

  it('renders the requester notice', () => {
    const view = buildApprovalView(source({ status: 'approved', decidedAt: new Date('2030-01-01T10:06:00Z'), decidedBy: 'alice, bob' }), [vote('alice', 'approve'), vote('bob', 'approve')]);
    const all = json(renderOutcomeNotice(view));
    expect(all).toContain('was *approved*');
    expect(all).toContain('alice, bob');
  });
});

describe('reason modal', () => {
  it('round-trips its metadata and marks the reason required per the rule', () => {
    const meta = { requestId: ID, decision: 'deny' as const, channelId: 'C1', responseUrl: 'https://hooks.slack.com/actions/x' };
    const modal = renderReasonModal(meta, 'on-deny');
    expect(modal.callback_id).toBe('countersign_reason');
    expect(parseReasonMetadata(modal.private_metadata)).toEqual(meta);
    expect(json(modal.blocks)).toContain('"optional":false');
    expect(json(renderReasonModal(meta, 'none').blocks)).toContain('"optional":true');
    expect(parseReasonMetadata('{"requestId":1}')).toBeUndefined();
    expect(parseReasonMetadata('not json')).toBeUndefined();
  });
});

describe('command results', () => {
  const event = (type: string, data: Record<string, unknown>, actor = 'bob@example.com'): AuditRecord => ({
    seq: '1', requestId: ID, type, actor: { key: actor, ids: [actor], label: actor.split('@')[0] }, channel: 'slack', at: '2030-01-01T10:05:00.000Z', data, payload: '', leafIndex: null, leafHash: null,
  });

  it('renders a trail with votes and refusals', () => {
    const view: ApprovalView = buildApprovalView(source(), [vote('alice', 'approve')]);
    const msg = renderCommandResult({
      kind: 'trail',
      request: view,
      events: [
        event('request.submitted', {}, 'agent:etl-agent-7'),
        event('vote.refused', { refusal: 'self_approval', message: 'Self-approval is not allowed: you are the requester.', attempted: 'approve' }, 'frank@example.com'),
        event('vote.cast', { decision: 'approve', reason: null }, 'alice@example.com'),
      ],
    }, '/countersign', `audit ${ID}`);
    const all = json(msg.blocks);
    expect(all).toContain('vote.refused');
    expect(all).toContain('self_approval');
    expect(all).toContain('frank');
    expect(all).toContain(':white_check_mark: approved');
    expect(all).toContain('Quarterly churn analysis');
  });

  it('adds a next-page hint to searches', () => {
    const msg = renderCommandResult({ kind: 'events', description: 'user:bob@example.com since x', events: [event('vote.cast', { decision: 'deny', reason: 'no' })], nextCursor: 'abc123' }, '/countersign', 'audit user:bob@example.com page:old');
    expect(json(msg.blocks)).toContain('/countersign audit user:bob@example.com page:abc123');
  });

  it('renders help, refusals and an empty pending list', () => {
    expect(json(renderCommandResult({ kind: 'help', lines: ['pending — requests you can approve now'] }, '/cs', 'help').blocks)).toContain('`/cs pending`');
    expect(renderCommandResult({ kind: 'refused', message: 'No.' }, '/cs', 'audit x').text).toBe('No.');
    expect(renderCommandResult({ kind: 'pending', items: [] }, '/cs', 'pending').text).toContain('Nothing');
  });
});
