/**
 * What a forged card would show, looked for in a rendered message: a vote, heading or outcome line the card did not
 * write, a mention, a link whose text hides its target, markup that survived from outside text, hidden characters, half
 * an emoji. Each check returns the problems it found (empty: nothing forged). Teams cards are also parsed with
 * Microsoft's own Adaptive Cards library.
 */
import { slackTexts } from './block-kit-limits';
import { LONE_SURROGATE } from './request-extremes';

// The adaptivecards package's `main` is ESM-only; its dist bundle parses cards in Node without a DOM.
const AC = require('adaptivecards/dist/adaptivecards.js');

/** Characters a reader cannot see, which outside text must not bring onto a card. */
const HIDDEN = /[\u200b\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\u{e0000}-\u{e007f}]/u;

function textProblems(where: string, text: string): string[] {
  const p: string[] = [];
  if (LONE_SURROGATE.test(text)) p.push(`${where}: half a surrogate pair`);
  // The renderers' own zero-width spaces (Teams link breaks) and word joiners (Slack broadcasts) are allowed.
  if (HIDDEN.test(text.replace(/\u200b(?=[(:[{])/g, '').replace(/@\u2060/g, '@'))) p.push(`${where}: a hidden character`);
  return p;
}

/** A vote line as the Slack card writes it. */
const SLACK_VOTE_LINE = /^(:white_check_mark:|:x:) \*[^*\n]+\* (approved|denied) via (slack|teams|api) · <!date\^\d+\^/;
/** The outcome line of a final card (its first words are the card's own). */
const SLACK_OUTCOME_LINE = /^(:white_check_mark:|:x:) \*(Approved|Denied)\* by /;

/** Problems with a Slack message: forged lines, mentions, links or markup from outside text. */
export function slackForgeryProblems(msg: { text: string; blocks: any[] }, expected: { votes: number }): string[] {
  const p: string[] = [];
  const texts = slackTexts(msg.blocks);
  let voteLines = 0;
  let votesHeadings = 0;
  for (const [i, t] of texts.entries()) {
    const where = `text ${i} (${t.type})`;
    p.push(...textProblems(where, t.text));
    if (/<!(?!date\^)[a-z]|<@|<#|<https?:\/\/evil/i.test(t.text)) p.push(`${where}: a mention or a link from outside text: ${t.text.slice(0, 80)}`);
    if (t.type !== 'mrkdwn') continue;
    if (t.verbatim !== true) p.push(`${where}: mrkdwn without verbatim (Slack would link and mention on its own)`);
    if ((t.text.match(/\*/g) ?? []).length % 2) p.push(`${where}: an unpaired * (outside text formatting)`);
    if ((t.text.match(/`/g) ?? []).length % 2) p.push(`${where}: an unpaired backtick (a code span escaped)`);
    for (const bad of ['*Dave Security*', '*ceo*', '*bold*', '`code`', '_italic_', '~strike~', ':white_check_mark: *Dave']) {
      if (t.text.includes(bad)) p.push(`${where}: outside markup survived: ${bad}`);
    }
    for (const line of t.text.split('\n')) {
      if (/^(:white_check_mark:|:x:|✅|❌)/.test(line) && !SLACK_OUTCOME_LINE.test(line)) {
        if (SLACK_VOTE_LINE.test(line)) voteLines++;
        else p.push(`${where}: a line that looks like a vote: ${line.slice(0, 80)}`);
      }
      if (line === '*Votes*') votesHeadings++;
      if (/^>?\s*(&gt;|＞)/.test(line)) p.push(`${where}: a line starts a quote of its own: ${line.slice(0, 80)}`);
    }
  }
  if (voteLines !== expected.votes) p.push(`${voteLines} vote lines for ${expected.votes} votes`);
  if (votesHeadings !== (expected.votes ? 1 : 0)) p.push(`${votesHeadings} Votes headings`);
  p.push(...textProblems('fallback text', msg.text));
  if (/\n|<!|<@|<https?:/.test(msg.text)) p.push(`fallback text carries a line break, mention or link: ${msg.text.slice(0, 120)}`);
  return p;
}

interface TeamsText {
  where: string;
  text: string;
  /** Inside a box of the agent's own words (the justification), where paragraphs are allowed. */
  boxed: boolean;
}

function teamsTexts(card: any): TeamsText[] {
  const out: TeamsText[] = [];
  const walk = (n: any, where: string, boxed: boolean): void => {
    if (Array.isArray(n)) return n.forEach((x, i) => walk(x, `${where}[${i}]`, boxed));
    if (!n || typeof n !== 'object') return;
    const box = boxed || (n.type === 'Container' && n.style === 'emphasis' && /^Justification/.test(n.items?.[0]?.text ?? ''));
    if (n.type === 'TextBlock') out.push({ where, text: n.text, boxed: box && !/^Justification/.test(n.text) });
    if (n.type === 'FactSet') for (const [i, f] of n.facts.entries()) out.push({ where: `${where}.facts[${i}].title`, text: f.title, boxed: false }, { where: `${where}.facts[${i}].value`, text: f.value, boxed: false });
    for (const [k, v] of Object.entries(n)) if (k !== 'facts') walk(v, `${where}.${k}`, box);
  };
  walk(card.body, 'body', false);
  return out;
}

/** A vote line as the Teams card writes it. */
const TEAMS_VOTE_LINE = /^(✅|❌) \*\*[^\n]+?\*\* (approved|denied) via (slack|teams|api), \{\{DATE\(/;
/** The detail line of a vote event in the trail: the kit's mark and verb, then the reason in quotes. */
const TEAMS_EVENT_DETAIL = /^(✅|❌) (approved|denied)( — “|$)/;

/**
 * Problems with a Teams card: forged paragraphs, links, emphasis or lists from outside text. `linkTo` is where the
 * card's own links may point (the API).
 */
export function teamsForgeryProblems(card: any, expected: { votes: number; linkTo: string }): string[] {
  const p: string[] = [];
  let voteLines = 0;
  for (const { where, text, boxed } of teamsTexts(card)) {
    p.push(...textProblems(where, text));
    if (!boxed && text.includes('\n')) p.push(`${where}: a line break outside the agent's box: ${text.slice(0, 80)}`);
    // What a Markdown renderer reads once backslash escapes are taken out.
    const markup = text.replace(/\\[\s\S]/g, '');
    for (const m of text.matchAll(/\[([^\]]*)\]\(([^)]*)\)/g)) if (!m[2].startsWith(expected.linkTo)) p.push(`${where}: a link to ${m[2]}`);
    const ownLinks = [...text.matchAll(/\[[^\]]*\]\(([^)]*)\)/g)].filter((m) => m[1].startsWith(expected.linkTo)).length;
    if ((markup.match(/\]\(/g) ?? []).length !== ownLinks) p.push(`${where}: link syntax from outside text`);
    if (/\]:|\]\[/.test(markup)) p.push(`${where}: a link definition or reference`);
    if (/(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/u.test(markup)) p.push(`${where}: an underscore that italicises`);
    if (/[`~]/.test(markup)) p.push(`${where}: code or strike-through markup`);
    if (markup.replace(/\*\*[^*\n]+?\*\*/g, '').includes('*')) p.push(`${where}: emphasis from outside text: ${text.slice(0, 80)}`);
    if (text.includes('{{DATE(2020')) p.push(`${where}: a date function from outside text`);
    for (const line of text.split('\n')) if (/^ *([-+*#>=]|\d+[.)])( |$)/.test(line)) p.push(`${where}: a line starting a list, heading or quote: ${line.slice(0, 60)}`);
    if (/^(✅|❌)/.test(text) && !TEAMS_EVENT_DETAIL.test(text)) {
      if (TEAMS_VOTE_LINE.test(text)) voteLines++;
      else p.push(`${where}: a block that looks like a vote: ${text.slice(0, 80)}`);
    }
  }
  if (voteLines !== expected.votes) p.push(`${voteLines} vote lines for ${expected.votes} votes`);
  if (typeof card.fallbackText === 'string') {
    p.push(...textProblems('fallbackText', card.fallbackText));
    if (/\n|\]\(/.test(card.fallbackText)) p.push('fallbackText carries a line break or a link');
  }
  return p;
}

/** What Microsoft's Adaptive Cards library reports when it parses the card (empty: a valid card). */
export function adaptiveCardProblems(card: unknown): string[] {
  const context = new AC.SerializationContext();
  new AC.AdaptiveCard().parse(card, context);
  const out: string[] = [];
  for (let i = 0; i < context.eventCount; i++) {
    const e = context.getEventAt(i);
    out.push(`${AC.ValidationEvent?.[e.event] ?? e.event}: ${e.message}`);
  }
  return out;
}
