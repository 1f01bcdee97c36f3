/**
 * Slack's limits on a message, checked independently of the renderer: the documented Block Kit limits
 * (https://docs.slack.dev/reference/block-kit) and the undocumented total behind `msg_blocks_too_long` (about 12,000
 * characters; slackapi/bolt-js#2509), counted here on the serialized blocks.
 */
export const SLACK_LIMITS = {
  blocks: 50,
  blocksInModal: 100,
  header: 150,
  sectionText: 3000,
  field: 2000,
  fields: 10,
  contextElements: 10,
  contextText: 2000,
  buttonText: 75,
  buttonValue: 2000,
  actionId: 255,
  blockId: 255,
  actionsElements: 25,
  fallbackText: 40_000,
  totalBlocksChars: 12_000,
  modalTitle: 24,
  privateMetadata: 3000,
} as const;

/** Every limit a message (or a modal's blocks) breaks; empty when Slack would accept it. */
export function slackLimitProblems(msg: { text?: string; blocks: any[] }, opts: { modal?: boolean } = {}): string[] {
  const p: string[] = [];
  const max = (what: string, value: string | undefined, limit: number) => {
    if (typeof value === 'string' && value.length > limit) p.push(`${what} is ${value.length} characters (limit ${limit})`);
  };
  const L = SLACK_LIMITS;
  if (msg.blocks.length > (opts.modal ? L.blocksInModal : L.blocks)) p.push(`${msg.blocks.length} blocks`);
  const total = JSON.stringify(msg.blocks).length;
  if (total > L.totalBlocksChars) p.push(`blocks serialize to ${total} characters (limit about ${L.totalBlocksChars})`);
  max('fallback text', msg.text, L.fallbackText);
  const text = (what: string, t: any, limit: number) => {
    if (!t) return;
    if (t.type !== 'plain_text' && t.type !== 'mrkdwn') p.push(`${what}: unknown text type ${t.type}`);
    if (typeof t.text !== 'string' || t.text.length === 0) p.push(`${what}: empty text`);
    max(what, t.text, limit);
  };
  for (const [i, b] of msg.blocks.entries()) {
    const at = `block ${i} (${b.type})`;
    max(`${at} block_id`, b.block_id, L.blockId);
    switch (b.type) {
      case 'header':
        if (b.text?.type !== 'plain_text') p.push(`${at}: a header takes plain_text`);
        text(at, b.text, L.header);
        break;
      case 'section':
        if (!b.text && !b.fields) p.push(`${at}: neither text nor fields`);
        text(at, b.text, L.sectionText);
        if ((b.fields?.length ?? 0) > L.fields) p.push(`${at}: ${b.fields.length} fields`);
        for (const f of b.fields ?? []) text(`${at} field`, f, L.field);
        break;
      case 'context':
        if (!b.elements?.length || b.elements.length > L.contextElements) p.push(`${at}: ${b.elements?.length} elements`);
        for (const e of b.elements ?? []) text(`${at} element`, e, L.contextText);
        break;
      case 'actions':
        if (!b.elements?.length || b.elements.length > L.actionsElements) p.push(`${at}: ${b.elements?.length} elements`);
        for (const e of b.elements ?? []) {
          text(`${at} button text`, e.text, L.buttonText);
          max(`${at} button value`, e.value, L.buttonValue);
          max(`${at} action_id`, e.action_id, L.actionId);
        }
        break;
      case 'divider':
      case 'input':
        break;
      default:
        p.push(`${at}: unexpected block type`);
    }
  }
  return p;
}

/** Every text object of a message (mrkdwn and plain_text), for content checks. */
export function slackTexts(blocks: any[]): { type: string; text: string; verbatim?: boolean }[] {
  const out: { type: string; text: string; verbatim?: boolean }[] = [];
  const walk = (n: any): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    if ((n.type === 'mrkdwn' || n.type === 'plain_text') && typeof n.text === 'string') out.push(n);
    Object.values(n).forEach(walk);
  };
  walk(blocks);
  return out;
}
