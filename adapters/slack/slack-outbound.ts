/**
 * The Slack side of the {@link ChatChannel} port: posts, updates and DMs through the Web API and classifies failures.
 * Deliberately free of retries and bookkeeping; the core's delivery worker owns both.
 */
import type { WebClient } from '@slack/web-api';
import type { ApprovalView } from '../../src/domain/approval-view';
import type { PersonIdentity } from '../../src/domain/identity';
import { ChannelError, type ChatChannel, type MessageRef } from '../../src/ports/chat-channel';
import { reminderText } from '../../src/channels/reminder-text';
import { renderApprovalCard, renderOutcomeNotice } from './slack-render';
import type { SlackDirectory } from './slack-directory';
import { toChannelError } from './slack-errors';

/** Where a Slack message lives: what chat.update needs. Stored by the core as JSON in Postgres. */
export interface SlackMessageRef extends MessageRef {
  channel: string;
  ts: string;
}

/**
 * The message metadata every card carries: Slack keeps it with the message and returns it from conversations.history,
 * which is how a card posted by an attempt whose answer was lost is found again instead of posted twice.
 */
export const CARD_EVENT_TYPE = 'countersign_approval_card';

/** How far before the request's creation a look-up starts (clocks of this node and Slack may disagree a little). */
const LOOKUP_SKEW_SECONDS = 300;
/** Pages of conversations.history read per look-up; a busier channel is searched no further (the card is re-posted). */
const LOOKUP_PAGES = 5;

function isSlackRef(ref: MessageRef): ref is SlackMessageRef {
  return typeof ref.channel === 'string' && typeof ref.ts === 'string';
}

async function call<T>(method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toChannelError(err, method);
  }
}

/** Builds the Slack channel over a WebClient configured with no retries and rate-limited calls rejected. */
export function createSlackOutbound(deps: {
  web: Pick<WebClient, 'chat' | 'conversations'>;
  directory: Pick<SlackDirectory, 'userIdByEmail'>;
  /** SLACK_BOT_ID when known: a card found by its metadata must also come from this bot. */
  botId?: string;
  close?: () => Promise<void>;
}): ChatChannel {
  const { web } = deps;
  return {
    kind: 'slack',

    async postCard(destination, view: ApprovalView) {
      const msg = renderApprovalCard(view);
      const res = await call('chat.postMessage', () =>
        web.chat.postMessage({
          channel: destination, text: msg.text, blocks: msg.blocks, unfurl_links: false, unfurl_media: false,
          metadata: { event_type: CARD_EVENT_TYPE, event_payload: { request_id: view.id } },
        }));
      if (!res.channel || !res.ts) throw new ChannelError('invalid_response', 'Slack chat.postMessage: no channel/ts in the answer', true);
      const ref: SlackMessageRef = { channel: res.channel, ts: res.ts };
      return ref;
    },

    async findCard(destination, view) {
      const oldest = String(Math.floor(Date.parse(view.createdAt) / 1000) - LOOKUP_SKEW_SECONDS);
      let cursor: string | undefined;
      for (let page = 0; page < LOOKUP_PAGES; page++) {
        const res = await call('conversations.history', () =>
          web.conversations.history({ channel: destination, oldest, include_all_metadata: true, limit: 200, ...(cursor ? { cursor } : {}) }));
        const card = (res.messages ?? []).find((m) =>
          m.metadata?.event_type === CARD_EVENT_TYPE
          && (m.metadata.event_payload as { request_id?: unknown } | undefined)?.request_id === view.id
          && (!deps.botId || m.bot_id === deps.botId));
        // conversations.history answers with the channel id as given; a card's ref must name the channel it is in.
        if (card?.ts) return { channel: destination, ts: card.ts } satisfies SlackMessageRef;
        cursor = res.response_metadata?.next_cursor || undefined;
        if (!res.has_more || !cursor) return null;
      }
      return null;
    },

    async updateCard(ref, view) {
      if (!isSlackRef(ref)) throw new ChannelError('invalid_message_ref', 'Slack chat.update: the stored message reference has no channel/ts', false);
      const msg = renderApprovalCard(view);
      await call('chat.update', () => web.chat.update({ channel: ref.channel, ts: ref.ts, text: msg.text, blocks: msg.blocks }));
    },

    async remind(ref, view) {
      if (!isSlackRef(ref)) throw new ChannelError('invalid_message_ref', 'Slack chat.postMessage: the stored message reference has no channel/ts', false);
      // A threaded reply under the card: the channel is not flooded, and the card above says what it is about.
      const res = await call('chat.postMessage', () => web.chat.postMessage({ channel: ref.channel, thread_ts: ref.ts, text: reminderText(view, new Date(), 'emoji'), unfurl_links: false, unfurl_media: false }));
      const sent: SlackMessageRef = { channel: ref.channel, ts: res.ts ?? '' };
      return sent;
    },

    async notify(person: PersonIdentity, view) {
      let userId = person.slackUserId?.trim();
      if (!userId && person.email) userId = await call('users.lookupByEmail', () => deps.directory.userIdByEmail(person.email as string));
      if (!userId) return null;
      const open = await call('conversations.open', () => web.conversations.open({ users: userId }));
      const channel = open.channel?.id;
      if (!channel) throw new ChannelError('invalid_response', 'Slack conversations.open: no channel id in the answer', true);
      const msg = renderOutcomeNotice(view);
      const res = await call('chat.postMessage', () => web.chat.postMessage({ channel, text: msg.text, blocks: msg.blocks, unfurl_links: false, unfurl_media: false }));
      const ref: SlackMessageRef = { channel, ts: res.ts ?? '' };
      return ref;
    },

    close: deps.close,
  };
}
