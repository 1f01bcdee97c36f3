/**
 * Every Slack message Countersign sends, rendered for the largest request the API accepts (and for one written to
 * forge a card): within Block Kit's limits and Slack's message total, nothing forged, nothing cut in half, and what
 * was shortened said, with the link to the full request.
 */
import {
  blockKitProblems,
  escapeEntities,
  mrkdwnLine,
  renderApprovalCard,
  renderCommandResult,
  renderOutcomeNotice,
  renderReasonModal,
  renderReply,
} from '../../adapters/slack/slack-render';
import type { ApprovalView } from '../../src/domain/approval-view';
import type { AuditRecord } from '../../src/services/audit-service';
import { HELP_LINES } from '../../src/services/chat-command-service';
import { slackLimitProblems, slackTexts } from '../support/block-kit-limits';
import { slackForgeryProblems } from '../support/forgery-checks';
import { extremeView, fill, FORGERY, LONE_SURROGATE, MAX } from '../support/request-extremes';

const json = (x: unknown) => JSON.stringify(x);
const texts = (blocks: any[]) => slackTexts(blocks).map((t) => t.text);

/** Every text of a message is whole: no half emoji anywhere (JSON.stringify would hide one as an escape). */
function noHalfCharacters(msg: { text: string; blocks: any[] }): void {
  for (const t of [msg.text, ...texts(msg.blocks)]) expect(t).not.toMatch(LONE_SURROGATE);
}

function audit(i: number, view: ApprovalView, nasty: boolean): AuditRecord {
  const label = nasty ? fill(`*ceo*${FORGERY.votes}`, MAX.name) : `Approver ${i}`;
  const types = ['request.submitted', 'policy.matched', 'vote.refused', 'vote.cast', 'delivery.delivered'];
  return {
    seq: String(i), requestId: view.id, type: types[i % types.length], actor: { key: `approver${i}@example.com`, ids: [], label },
    channel: 'slack', at: new Date(Date.UTC(2030, 0, 1, 10, 0, i)).toISOString(), payload: '', leafIndex: null, leafHash: null,
    data: {
      action: view.action, resource: view.resource, decision: 'approve', refusal: 'not_eligible', attempted: 'approve',
      reason: nasty ? fill(`${FORGERY.links}${FORGERY.votes}`, MAX.reason) : fill('Because. ', MAX.reason), message: nasty ? FORGERY.votes : 'Not an approver.',
      asserted: ['resource', 'risk'], target: 'slack:C1', kind: 'card',
    },
  };
}

/** A standing approval with the longest agent fields a request may carry. */
function standingView(i: number, nasty: boolean) {
  const v = extremeView({ nasty });
  return {
    id: `5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e${String(i).padStart(2, '0')}`, requestId: v.id, rule: v.rule, action: v.action, resource: v.resource,
    environment: fill(nasty ? FORGERY.links : 'e', 200), requester: { id: fill(nasty ? FORGERY.links : 'r', 200), type: 'agent' },
    grantedBy: { person: 'alice@example.com', label: fill(nasty ? FORGERY.links : 'A', 200) }, maxUses: 20, usesLeft: 20,
    createdAt: new Date(0).toISOString(), expiresAt: new Date(0).toISOString(), revokedAt: null, revokedBy: null, active: true, mayRevoke: true,
  };
}

describe('every Slack message fits, for the largest valid request', () => {
  const kinds: [string, () => { text: string; blocks: any[] }][] = [];
  for (const nasty of [false, true]) {
    const tag = nasty ? 'forgery attempt' : 'plain';
    kinds.push(
      [`pending card, 20 votes (${tag})`, () => renderApprovalCard(extremeView({ nasty, votes: 19 }))],
      [`approved card, 20 votes (${tag})`, () => renderApprovalCard(extremeView({ nasty, status: 'approved' }))],
      [`denied card (${tag})`, () => renderApprovalCard(extremeView({ nasty, status: 'denied', votes: 1 }))],
      [`outcome notice (${tag})`, () => renderOutcomeNotice(extremeView({ nasty, status: 'approved' }))],
      [`audit trail with 200 events (${tag})`, () => {
        const view = extremeView({ nasty, status: 'approved' });
        return renderCommandResult({ kind: 'trail', request: view, events: Array.from({ length: 200 }, (_, i) => audit(i, view, nasty)) }, '/countersign', `audit ${view.id}`);
      }],
      [`audit search, a full page (${tag})`, () => {
        const view = extremeView({ nasty });
        return renderCommandResult({ kind: 'events', description: fill(FORGERY.links, 3000), events: Array.from({ length: 20 }, (_, i) => audit(i, view, nasty)), nextCursor: '12345' }, '/countersign', `audit user:${fill('x', 2000)}`);
      }],
      [`standing approvals, a full page (${tag})`, () => renderCommandResult({ kind: 'standing', items: Array.from({ length: 20 }, (_, i) => standingView(i, nasty)) }, '/countersign', 'standing')],
      [`pending list, a full page (${tag})`, () => renderCommandResult({ kind: 'pending', items: Array.from({ length: 20 }, (_, i) => extremeView({ nasty, votes: 0, id: `5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e${String(i).padStart(2, '0')}` })) }, '/countersign', 'pending')],
    );
  }
  kinds.push(
    ['help', () => renderCommandResult({ kind: 'help', lines: HELP_LINES }, '/countersign', 'help')],
    ['refused command', () => renderCommandResult({ kind: 'refused', message: fill('No. ', 5000) }, '/countersign', 'audit x')],
    ['command error', () => renderCommandResult({ kind: 'error', message: fill('Unknown command `x`. ', 5000) }, '/countersign', 'x')],
    ['reply', () => renderReply(`:no_entry: ${fill(FORGERY.links, 5000)}`)],
  );

  it.each(kinds)('%s', (_name, render) => {
    const msg = render();
    expect(slackLimitProblems(msg)).toEqual([]);
    expect(blockKitProblems(msg)).toEqual([]);
    // A notification line: 300 characters of text, a little more once escaped.
    expect(msg.text.length).toBeLessThanOrEqual(1500);
    noHalfCharacters(msg);
  });

  it('the reason modal', () => {
    const modal = renderReasonModal({ requestId: '5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e5f', decision: 'deny', channelId: 'C0000DATA', responseUrl: `https://hooks.slack.com/actions/${'x'.repeat(200)}` }, 'always');
    expect(slackLimitProblems({ blocks: modal.blocks }, { modal: true })).toEqual([]);
    expect(modal.title.text.length).toBeLessThanOrEqual(24);
    expect(modal.private_metadata!.length).toBeLessThanOrEqual(3000);
  });

  it('shows a 4,000-character justification in full when the rest of the card leaves room (Slack used to cut it near 2,980)', () => {
    const view = { ...extremeView({ votes: 0 }), context: [] };
    const all = texts(renderApprovalCard(view).blocks).join('\n');
    const quoted = all.split('\n').filter((l) => l.startsWith('>')).map((l) => l.slice(1)).join('');
    expect(quoted).toBe(view.justification);
  });

  it('says what it shortened and links the full request', () => {
    const view = extremeView();
    const msg = renderApprovalCard(view);
    const note = texts(msg.blocks).find((t) => t.startsWith('Shortened to fit:'))!;
    expect(note).toMatch(/Shortened to fit: .*the justification.*50 context values/);
    expect(note).toContain(`<${view.links!.request}|Full request (API)>`);
    // The facts, the buttons and the request id survive whatever had to be shortened.
    expect(msg.blocks.at(-1)).toMatchObject({ type: 'actions', block_id: `countersign_decide:${view.id}` });
    expect(json(msg.blocks)).toContain(`\`${view.id}\``);
    const trail = renderCommandResult({ kind: 'trail', request: view, events: Array.from({ length: 200 }, (_, i) => audit(i, view, false)) }, '/countersign', 'audit');
    expect(texts(trail.blocks).at(-1)).toMatch(new RegExp(`^\\d+ more events not shown here\\..*<${view.links!.audit.replace(/[?]/g, '\\?')}\\|Full trail \\(API\\)>`));
  });
});

describe('outside text cannot forge a Slack card', () => {
  it('keeps forged votes, headings, mentions, links, markup and hidden characters off the card (pending, with two real votes)', () => {
    const view = extremeView({ nasty: true, votes: 2 });
    const msg = renderApprovalCard(view);
    expect(slackForgeryProblems(msg, { votes: 2 })).toEqual([]);
    // The card is still the card: its own heading, facts marked as the agent's, its buttons.
    expect(msg.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    expect(texts(msg.blocks)).toContain(':warning: Asserted by the agent, not verified: action, resource, environment, risk, requester, model, on behalf of, justification, context, trace id.');
    expect(json(msg.blocks)).toContain('*Resource* _(asserted)_');
    expect(msg.blocks.filter((b) => b.type === 'actions')).toHaveLength(1);
  });

  it('keeps them off a final card, the requester notice and every command answer too', () => {
    const denied = extremeView({ nasty: true, status: 'denied', votes: 1 });
    expect(slackForgeryProblems(renderApprovalCard(denied), { votes: 1 })).toEqual([]);
    expect(slackForgeryProblems(renderOutcomeNotice(denied), { votes: 0 })).toEqual([]);
    const events = Array.from({ length: 30 }, (_, i) => audit(i, denied, true));
    expect(slackForgeryProblems(renderCommandResult({ kind: 'trail', request: denied, events }, '/countersign', 'audit'), { votes: 0 })).toEqual([]);
    expect(slackForgeryProblems(renderCommandResult({ kind: 'events', description: FORGERY.links, events, nextCursor: null }, '/countersign', 'audit'), { votes: 0 })).toEqual([]);
    expect(slackForgeryProblems(renderCommandResult({ kind: 'pending', items: [extremeView({ nasty: true, votes: 0 })] }, '/countersign', 'pending'), { votes: 0 })).toEqual([]);
  });

  it('reproduction: a context value with new lines no longer renders a fake "*Votes* … *Dave Security* approved" inside the card', () => {
    const view = { ...extremeView({ votes: 0 }), context: [{ key: 'ticket', value: 'INC-1\n\n*Votes*\n:white_check_mark: *Dave Security* approved via slack', masked: false }] };
    const lines = texts(renderApprovalCard(view).blocks).flatMap((t) => t.split('\n'));
    expect(lines.filter((l) => l.includes('Dave Security'))).toEqual(['• *ticket*: INC-1 ⏎  ⏎ ∗Votes∗ ⏎ :white_check_mark: ∗Dave Security∗ approved via slack']);
    expect(lines).not.toContain('*Votes*');
  });

  it('reproduction: the fallback text no longer carries <!channel> or a disguised link', () => {
    const view = { ...extremeView({ votes: 0 }), action: 'deploy', resource: '<!channel> <https://evil.example|Open runbook>', requesterLabel: '<!here> bot' };
    const { text } = renderApprovalCard(view);
    expect(text).toContain('&lt;!channel&gt; &lt;https://evil.example|Open runbook&gt;');
    expect(text).not.toMatch(/<!|<http/);
  });

  it('reproduction: a backtick in a trace id or resource no longer escapes its code span', () => {
    const view = { ...extremeView({ votes: 0 }), traceId: 'abc` *Approved* by ceo `', resource: '`x` <!channel>' };
    const msg = renderApprovalCard(view);
    const trace = texts(msg.blocks).find((t) => t.startsWith('*Trace id*'))!;
    expect(trace).toBe('*Trace id* _(asserted)_\n`abcˋ ∗Approved∗ by ceo ˋ`');
    expect(slackForgeryProblems(renderOutcomeNotice({ ...view, status: 'approved', final: true, decidedBy: 'x', decidedAt: view.createdAt }), { votes: 0 })).toEqual([]);
  });

  it('escapes in the order that leaves nothing to unescape, and leaves words alone', () => {
    expect(escapeEntities('a & <b> &amp;')).toBe('a &amp; &lt;b&gt; &amp;amp;');
    expect(mrkdwnLine('db_password _x_ *y* ~z~ `w` > q')).toBe('db_password ˍxˍ ∗y∗ ∼z∼ ˋwˋ &gt; q');
    expect(mrkdwnLine('> quote')).toBe('\u00ad&gt; quote');
    expect(mrkdwnLine('- item')).toBe('\u00ad- item');
    expect(mrkdwnLine('ping @channel and @here')).toBe('ping @\u2060channel and @\u2060here');
  });
});
