/**
 * The chat kit's rules that both platforms rely on: text is shortened on character boundaries, outside text is made
 * plain before any platform escapes it, budgets shorten fairly and say what they shortened, and cards say which
 * facts are the agent's claims.
 */
import { agentLines, agentText, HIDDEN_MARK, oneLine } from '../../src/channels/agent-text';
import { auditLine } from '../../src/channels/audit-line';
import { fairCaps, fitView, renderWithin, scaleBudget, type TextBudget } from '../../src/channels/card-budget';
import { cardFacts, claimsLine } from '../../src/channels/card-facts';
import { workspaceRefusal } from '../../src/channels/workspace-refusal';
import { revokedText, standingList } from '../../src/channels/standing-list';
import { voteReply } from '../../src/channels/chat-reply';
import { clip, prefixWithin } from '../../src/channels/text-limits';
import { buildApprovalView, REQUEST_CLAIMS } from '../../src/domain/approval-view';
import { ASSERTED_FIELDS } from '../../src/services/intake-service';
import { extremeView, LONE_SURROGATE } from '../support/request-extremes';

describe('clip', () => {
  it('never splits a surrogate pair, whatever the limit', () => {
    const emoji = '😀'.repeat(20);
    for (let max = 0; max <= 41; max++) {
      const out = clip(emoji, max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(out).not.toMatch(LONE_SURROGATE);
    }
  });

  it('cuts between graphemes: a family emoji or a flag stays whole or goes', () => {
    const family = '👨‍👩‍👧‍👦'; // 11 code units joined by ZWJ
    const text = `ab${family}${family}🇩🇪é`;
    for (let max = 1; max <= text.length; max++) {
      const out = prefixWithin(text, max);
      expect(out.length).toBeLessThanOrEqual(max);
      expect(text.startsWith(out)).toBe(true);
      expect(out).not.toMatch(/\u200d$/);
      expect(['', 'a', 'ab', `ab${family}`, `ab${family}${family}`, `ab${family}${family}🇩🇪`, text]).toContain(out);
    }
    expect(clip('hello world', 6)).toBe('hello…');
    expect(clip('short', 10)).toBe('short');
  });

  it('cuts a single grapheme longer than the limit between code points', () => {
    const zalgo = `a${'\u0301'.repeat(50)}`;
    expect(prefixWithin(zalgo, 10)).toHaveLength(10);
    expect(prefixWithin('😀😀', 3)).toBe('😀');
  });
});

describe('outside text made plain', () => {
  it('shows hidden and direction-changing characters and keeps emoji', () => {
    const text = 'a\u200bb\u202ec\u202cd\ufeffe\u2066f\u2069g\u00adh\u{e0041}i\u0007j 👨‍👩‍👧 ✌️';
    const plain = agentText(text);
    expect(plain).toBe(`a${HIDDEN_MARK}b${HIDDEN_MARK}c${HIDDEN_MARK}d${HIDDEN_MARK}e${HIDDEN_MARK}f${HIDDEN_MARK}g${HIDDEN_MARK}h${HIDDEN_MARK}i${HIDDEN_MARK}j 👨‍👩‍👧 ✌️`);
    expect(agentText('\ud83d alone')).toBe(`${HIDDEN_MARK} alone`);
  });

  it('turns every kind of line break into a visible mark on one line, or into lines', () => {
    const text = 'one\ntwo\r\nthree\rfour\u2028five\u2029six\u0085seven\u000beight';
    expect(oneLine(text)).toBe('one ⏎ two ⏎ three ⏎ four ⏎ five ⏎ six ⏎ seven ⏎ eight');
    expect(agentLines(text)).toEqual(['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight']);
  });
});

describe('card budget', () => {
  it('shares a total fairly: short texts stay whole, long ones share the rest', () => {
    expect(fairCaps([10, 1000, 1000, 50], 1000, 2000)).toEqual([10, 470, 470, 50]);
    expect(fairCaps([10, 20], 1000, 15)).toEqual([10, 15]);
    expect(fairCaps([], 10, 10)).toEqual([]);
  });

  it('shortens the largest request to the budget, on character boundaries, and says what it shortened', () => {
    const view = extremeView({ nasty: true });
    const budget: TextBudget = { fact: 100, justification: 500, contextKey: 20, contextValue: 300, context: 3000, reason: 200, reasons: 1000 };
    const { view: fitted, shortened } = fitView(view, budget);
    expect(fitted.justification!.length).toBeLessThanOrEqual(500);
    expect(fitted.context.reduce((n, c) => n + c.value.length, 0)).toBeLessThanOrEqual(3000);
    expect(fitted.votes.reduce((n, v) => n + (v.reason?.length ?? 0), 0)).toBeLessThanOrEqual(1000);
    expect(JSON.stringify(fitted)).not.toMatch(LONE_SURROGATE);
    expect(shortened).toEqual(expect.arrayContaining(['the justification', 'the resource', '50 context values', '50 context keys', '20 vote reasons']));
    expect(fitView(extremeView({ votes: 0 }), { ...budget, fact: 10_000, justification: 10_000, contextKey: 100, contextValue: 2000, context: 1e6 }).shortened).toEqual([]);
  });

  it('renders again with a smaller budget until the result fits, keeping a floor for facts', () => {
    const view = extremeView();
    const sizes: number[] = [];
    const out = renderWithin(view, scaleBudget({ fact: 1000, justification: 4000, contextKey: 100, contextValue: 2000, context: 100_000, reason: 2000, reasons: 40_000 }, 1), ({ view: v }) => {
      const size = JSON.stringify(v).length;
      sizes.push(size);
      return size;
    }, (size) => size < 30_000);
    expect(out).toBeLessThan(30_000);
    expect(sizes.length).toBeGreaterThan(1);
    expect(scaleBudget({ fact: 1000, justification: 4000, contextKey: 100, contextValue: 2000, context: 1, reason: 1, reasons: 1 }, 0)).toMatchObject({ fact: 60, contextKey: 16, justification: 0 });
  });
});

describe('claims', () => {
  const source = {
    id: '5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e5f', status: 'pending' as const, action: 'deploy.release', resource: 'k8s://prod/api', environment: 'production',
    risk: 'high' as const, justification: 'why', requester: { id: 'etl', type: 'agent' as const, model: 'gpt' }, onBehalfOf: null, context: {},
    policyRule: 'r', approvalsRequired: 1, requirement: null, createdAt: new Date(), expiresAt: new Date(), decidedAt: null, decidedBy: null,
    decisionReason: null, traceId: 't-1',
  };

  it('marks every fact the agent stated, and the ones its key pinned', () => {
    const view = buildApprovalView({ ...source, pinnedFields: ['requester.id', 'requester.type', 'environment'] }, []);
    const facts = Object.fromEntries(cardFacts(view).map((f) => [f.label, f.source]));
    expect(facts).toMatchObject({ Action: 'asserted', Resource: 'asserted', Environment: 'pinned', Risk: 'asserted', 'Requested by': 'asserted', 'Trace id': 'asserted', 'Matched rule': null, 'Request id': null, Approvals: null });
    expect(claimsLine(view)).toBe('Asserted by the agent, not verified: action, resource, risk, model, justification, trace id. Pinned by its API key: environment, requester.');
    // Without a model the requester is the key's alone.
    const pinnedRequester = buildApprovalView({ ...source, requester: { id: 'etl', type: 'agent' }, pinnedFields: ['requester.id', 'requester.type'] }, []);
    expect(cardFacts(pinnedRequester).find((f) => f.label === 'Requested by')!.source).toBe('pinned');
  });

  it('knows every field intake treats as asserted', () => {
    for (const field of ASSERTED_FIELDS) expect(REQUEST_CLAIMS).toContain(field);
  });

  it('say in the trail which fields the agent asserted', () => {
    const line = auditLine({ type: 'request.submitted', actor: { key: 'agent:etl', ids: [] }, data: { action: 'a', resource: 'r', asserted: ['resource', 'risk'], pinned: ['environment'] } });
    expect(line.detail).toBe('submitted a on r · asserted by the agent, not verified: resource, risk · pinned by its API key: environment');
  });

  it('say in the trail why a budget escalated, which stage is asked, and what standing approvals did', () => {
    const line = (type: string, data: Record<string, unknown>) => auditLine({ type, actor: { key: 'policy', ids: [] }, data }).detail;
    expect(line('policy.budget_exhausted', { rule: 'reads', count: 20, per: '1h', escalatedTo: 'reads-past-budget' })).toBe('budget exhausted: rule reads approves at most 20 per 1h → reads-past-budget');
    expect(line('request.stage_advanced', { stage: 2, of: 2, approvers: ['security'] })).toBe('stage 2 of 2 asked: security');
    expect(line('standing_approval.used', { standingApprovalId: 's1', grantedBy: 'alice', usesLeft: 3 })).toBe('approved by standing approval s1 of alice · uses left: 3');
    expect(line('standing_approval.revoked', { standingApprovalId: 's1', reason: 'incident' })).toBe('revoked standing approval s1 — “incident”');
  });
});

describe('refusing other workspaces', () => {
  it('records a vote attempt in the request trail and anything else as chat.refused', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    const vote = workspaceRefusal({ platform: 'teams', attempted: 'approve', requestId: '5F1C1F2E-8A4B-4C55-9D2E-0A1B2C3D4E5F', user: { id: '29:x', aadObjectId: 'AB', name: 'Carol' }, from: 'other', expected: 'ours', at });
    expect(vote.reply).toEqual({ text: ':no_entry: This Countersign installation serves another Microsoft 365 tenant. Nothing was recorded.', tone: 'refused' });
    expect(vote.event).toMatchObject({
      type: 'vote.refused', requestId: '5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e5f', channel: 'teams', actor: { key: 'teams:ab', ids: ['teams:ab', 'teams:other/ab'], label: 'Carol' },
      data: { refusal: 'foreign_tenant', attempted: 'approve', tenant: 'other', expectedTenant: 'ours' },
    });
    const command = workspaceRefusal({ platform: 'slack', attempted: 'command', requestId: 'not-a-uuid', user: { id: 'U1' }, from: 'T2', expected: null, at });
    expect(command.event).toMatchObject({ type: 'chat.refused', requestId: null, actor: { key: 'slack:U1' }, data: { refusal: 'workspace_unknown', workspace: 'T2', requestId: null } });
    expect(command.reply.tone).toBe('error');
  });
});

describe('standing approvals in chat', () => {
  const item = {
    id: '5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e5f', requestId: 'r', rule: 'deploys', action: 'deploy.service', resource: 'svc://x', environment: 'production',
    requester: { id: 'bot', type: 'agent' }, grantedBy: { person: 'alice', label: 'Alice' }, maxUses: 5, usesLeft: 2,
    createdAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T00:15:00.000Z', revokedAt: null, revokedBy: null, active: true,
  };

  it('lists what each covers, marks the agent\'s fields as asserted, and says how to revoke', () => {
    const list = standingList([item], '/countersign revoke');
    expect(list.heading).toBe('Active standing approvals of rules you approve (1)');
    expect(list.entries[0]).toMatchObject({ action: 'deploy.service', resource: 'svc://x' });
    const facts = Object.fromEntries(list.entries[0].facts.map((f) => [f.label, f]));
    expect(facts.Requester).toMatchObject({ value: 'bot (agent)', source: 'asserted' });
    expect(facts.Environment).toMatchObject({ value: 'production', source: 'asserted' });
    expect(facts['Uses left'].value).toBe('2 of 5');
    expect(facts.Id).toMatchObject({ value: item.id, kind: 'id' });
    expect(list.howToRevoke).toContain('/countersign revoke <id>');
    expect(standingList([], 'revoke')).toMatchObject({ entries: [], howToRevoke: null });
    expect(revokedText(item)).toBe(`Standing approval ${item.id} is revoked: matching requests will be asked again.`);
  });

  it('tells the approver who granted one how it can be revoked', () => {
    const reply = voteReply({ outcome: 'accepted', requestId: 'r', status: 'approved', approvals: 1, approvalsRequired: 1, standingApproval: { id: item.id, expiresAt: item.expiresAt, uses: 5 } });
    expect(reply.text).toContain(`\`revoke ${item.id}\``);
    expect(reply.text).toContain(`POST /v1/standing-approvals/${item.id}/revoke`);
  });
});
