/**
 * Every Teams card Countersign sends, rendered for the largest request the API accepts (and for one written to forge
 * a card): valid for Microsoft's Adaptive Cards library, within Teams' message size limit, nothing forged, nothing cut
 * in half, and what was shortened said, with the link to the full request.
 */
import { activityBytes, cardParagraphs, neutralizeMarkdown, renderApprovalCard, renderCommandCard, renderNoticeCard, TEAMS_MESSAGE_BYTES, type AdaptiveCard } from '../../adapters/teams/teams-render';
import type { ApprovalView } from '../../src/domain/approval-view';
import type { AuditRecord } from '../../src/services/audit-service';
import { HELP_LINES } from '../../src/services/chat-command-service';
import { adaptiveCardProblems, teamsForgeryProblems } from '../support/forgery-checks';
import { extremeView, fill, FORGERY, LONE_SURROGATE, MAX } from '../support/request-extremes';
import { cardText } from './teams-test-app';

const LINKS_TO = 'https://countersign.example.com/v1/';
const REFRESH = Array.from({ length: 60 }, (_, i) => `8:orgid:00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);

function audit(i: number, view: ApprovalView, nasty: boolean): AuditRecord {
  const types = ['request.submitted', 'policy.matched', 'vote.refused', 'vote.cast', 'delivery.delivered'];
  return {
    seq: String(i), requestId: view.id, type: types[i % types.length], channel: 'teams', at: new Date(Date.UTC(2030, 0, 1, 10, 0, i)).toISOString(),
    actor: { key: `approver${i}@example.com`, ids: [], label: nasty ? fill(`*ceo*${FORGERY.votes}`, MAX.name) : `Approver ${i}` }, payload: '', leafIndex: null, leafHash: null,
    data: {
      action: view.action, resource: view.resource, decision: 'approve', refusal: 'not_eligible', attempted: 'approve', asserted: ['resource'],
      reason: nasty ? fill(`${FORGERY.links}${FORGERY.votes}`, MAX.reason) : fill('Because. ', MAX.reason), message: nasty ? FORGERY.votes : 'Not an approver.',
    },
  };
}

/** Every string of a card is whole: no half emoji anywhere. */
function noHalfCharacters(card: unknown): void {
  const walk = (n: unknown): void => {
    if (typeof n === 'string') expect(n).not.toMatch(LONE_SURROGATE);
    else if (n && typeof n === 'object') Object.values(n).forEach(walk);
  };
  walk(card);
}

describe('every Teams card fits, for the largest valid request, and Microsoft\'s parser accepts it', () => {
  const kinds: [string, () => AdaptiveCard][] = [];
  for (const nasty of [false, true]) {
    const tag = nasty ? 'forgery attempt' : 'plain';
    kinds.push(
      [`pending card, 20 votes, 60 refresh ids, a notice (${tag})`, () => renderApprovalCard(extremeView({ nasty, votes: 19 }), { refreshUserIds: REFRESH, notice: { text: ':white_check_mark: Your approval was recorded (19 of 20).', tone: 'ok' } })],
      [`approved card, 20 votes (${tag})`, () => renderApprovalCard(extremeView({ nasty, status: 'approved' }))],
      [`requester notification (${tag})`, () => renderApprovalCard(extremeView({ nasty, status: 'denied' }), { notification: true })],
      [`audit trail with 200 events (${tag})`, () => {
        const view = extremeView({ nasty, status: 'approved' });
        return renderCommandCard({ kind: 'trail', request: view, events: Array.from({ length: 200 }, (_, i) => audit(i, view, nasty)) });
      }],
      [`audit search, a full page (${tag})`, () => {
        const view = extremeView({ nasty });
        return renderCommandCard({ kind: 'events', description: fill(FORGERY.links, 3000), events: Array.from({ length: 20 }, (_, i) => audit(i, view, nasty)), nextCursor: '123' });
      }],
      [`pending list, a full page (${tag})`, () => renderCommandCard({ kind: 'pending', items: Array.from({ length: 20 }, (_, i) => extremeView({ nasty, votes: 0, id: `5f1c1f2e-8a4b-4c55-9d2e-0a1b2c3d4e${String(i).padStart(2, '0')}` })) })],
    );
  }
  kinds.push(
    ['help', () => renderCommandCard({ kind: 'help', lines: HELP_LINES })],
    ['refused command', () => renderCommandCard({ kind: 'refused', message: fill('No. ', 5000) })],
    ['command error', () => renderCommandCard({ kind: 'error', message: fill('Unknown command `x`. ', 5000) })],
    ['notice', () => renderNoticeCard({ text: fill(FORGERY.links, 5000), tone: 'refused' })],
  );

  it.each(kinds)('%s', (_name, render) => {
    const card = render();
    expect(adaptiveCardProblems(card)).toEqual([]);
    expect(activityBytes(card)).toBeLessThanOrEqual(TEAMS_MESSAGE_BYTES);
    noHalfCharacters(card);
  });

  it('reproduction: the request at the API\'s maxima no longer renders a 229,690-byte card (Teams\' limit is 100 KB)', () => {
    const view = extremeView({ votes: 20, status: 'approved' });
    const card = renderApprovalCard(view, { refreshUserIds: REFRESH });
    expect(activityBytes(card)).toBeLessThanOrEqual(TEAMS_MESSAGE_BYTES);
    const all = cardText(card);
    expect(all).toMatch(/Shortened to fit: .*50 context values/);
    expect(all).toContain(`[Full request (API)](${view.links!.request})`);
    // What must never be shortened away: the request id and the outcome.
    expect(all).toContain(`Request id: ${view.id}`);
    expect(all).toContain('Outcome: Approved');
  });

  it('reproduction: a trail of 200 events no longer renders a 194,858-byte card', () => {
    const view = extremeView({ status: 'approved' });
    const card = renderCommandCard({ kind: 'trail', request: view, events: Array.from({ length: 200 }, (_, i) => audit(i, view, false)) });
    expect(activityBytes(card)).toBeLessThanOrEqual(TEAMS_MESSAGE_BYTES);
    expect(cardText(card)).toMatch(new RegExp(`\\d+ more events not shown here\\..*\\[Full trail \\(API\\)\\]\\(${view.links!.audit.replace(/[?]/g, '\\?')}\\)`));
  });

  it('shows a short request whole, without a note', () => {
    const view = { ...extremeView({ votes: 2 }), context: [{ key: 'rows', value: '120000', masked: false }], justification: 'Quarterly churn analysis.' };
    expect(cardText(renderApprovalCard(view))).not.toContain('Shortened to fit');
  });
});

describe('outside text cannot forge a Teams card', () => {
  it('keeps forged votes, paragraphs, links, emphasis, lists and hidden characters off the card (pending, two real votes)', () => {
    const card = renderApprovalCard(extremeView({ nasty: true, votes: 2 }), { notice: { text: ':no_entry: Self-approval is not allowed.', tone: 'refused' } });
    expect(teamsForgeryProblems(card, { votes: 2, linkTo: LINKS_TO })).toEqual([]);
    const all = cardText(card);
    expect(all).toContain('⚠ Asserted by the agent, not verified: action, resource, environment, risk, requester, model, on behalf of, justification, context, trace id.');
    expect(all).toMatch(/Resource: s3:\/\/bucket\/.* \(asserted\)/);
    expect(card.body.find((e: any) => e.type === 'Container' && e.items?.[0]?.text === 'Justification (asserted by the agent)')).toMatchObject({ style: 'emphasis' });
  });

  it('keeps them off a final card, the notification and every command answer too', () => {
    const denied = extremeView({ nasty: true, status: 'denied', votes: 1 });
    expect(teamsForgeryProblems(renderApprovalCard(denied), { votes: 1, linkTo: LINKS_TO })).toEqual([]);
    expect(teamsForgeryProblems(renderApprovalCard(denied, { notification: true }), { votes: 1, linkTo: LINKS_TO })).toEqual([]);
    const events = Array.from({ length: 30 }, (_, i) => audit(i, denied, true));
    // Event types are the card's own bold words (`**vote.cast**`); they are not votes.
    const bold = (card: AdaptiveCard) => teamsForgeryProblems(card, { votes: 0, linkTo: LINKS_TO });
    expect(bold(renderCommandCard({ kind: 'trail', request: denied, events }))).toEqual([]);
    expect(bold(renderCommandCard({ kind: 'events', description: FORGERY.links, events, nextCursor: null }))).toEqual([]);
    expect(bold(renderCommandCard({ kind: 'pending', items: [extremeView({ nasty: true, votes: 0 })] }))).toEqual([]);
    expect(bold(renderNoticeCard({ text: `:no_entry: ${FORGERY.links}${FORGERY.markup}`, tone: 'refused' }))).toEqual([]);
  });

  it('reproduction: a context key no longer renders as a markdown link in the FactSet title', () => {
    const view = { ...extremeView({ votes: 0 }), context: [{ key: '[Open runbook](https://evil.example)', value: 'x', masked: false }] };
    const facts = renderApprovalCard(view).body.flatMap((e: any) => e.items ?? []).filter((e: any) => e.type === 'FactSet').flatMap((e: any) => e.facts);
    expect(facts.map((f: any) => f.title)).toContain('[Open runbook]\u200b(https://evil.example)');
  });

  it('reproduction: new lines in context, justification and environment no longer render as fake vote paragraphs', () => {
    const fake = 'prod\n\n✅ **Dave Security** approved via teams';
    const view = { ...extremeView({ votes: 0 }), environment: fake, justification: `Fix.${fake.slice(4)}`, context: [{ key: 'note', value: fake, masked: false }] };
    const card = renderApprovalCard(view);
    expect(teamsForgeryProblems(card, { votes: 0, linkTo: LINKS_TO })).toEqual([]);
    expect(cardText(card)).toContain('Environment: prod ⏎  ⏎ ✅ \\*\\*Dave Security\\*\\* approved via teams (asserted)');
  });

  it('reproduction: the trail card\'s status line is no longer a live link', () => {
    const view = { ...extremeView({ status: 'denied', votes: 0 }), decidedBy: 'Bob', decisionReason: 'see [the runbook](https://evil.example/phish)' };
    const card = renderCommandCard({ kind: 'trail', request: view, events: [] });
    expect(cardText(card)).toContain('see [the runbook]\u200b(https://evil.example/phish)');
    expect(teamsForgeryProblems(card, { votes: 0, linkTo: LINKS_TO })).toEqual([]);
  });

  it('escapes markup and leaves words alone', () => {
    expect(neutralizeMarkdown('db_password _x_ **y** ~z~ `w` \\*')).toBe('db_password \\_x\\_ \\*\\*y\\*\\* \\~z\\~ \\`w\\` \\\\\\*');
    expect(neutralizeMarkdown('- item')).toBe('\\- item');
    expect(neutralizeMarkdown('1. first')).toBe('1\\. first');
    expect(neutralizeMarkdown('# h')).toBe('\\# h');
    expect(neutralizeMarkdown('> q')).toBe('\\> q');
    expect(neutralizeMarkdown('[a]: https://x [b][c] {{DATE(x)}}')).toBe('[a]\u200b: https://x [b]\u200b[c] {\u200b{DATE(x)}}');
    expect(neutralizeMarkdown('-5 #tag 2024')).toBe('-5 #tag 2024');
    expect(cardParagraphs('a\n- b\n\n1. c')).toBe('a\n\n\\- b\n\n\n\n1\\. c');
  });
});
