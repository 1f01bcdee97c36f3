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
export function createSlackOutbound(deps: { web: Pick<WebClient, 'chat' | 'conversations'>; directory: Pick<SlackDirectory, 'userIdByEmail'>; close?: () => Promise<void> }): ChatChannel {
  const { web } = deps;
  return {
    kind: 'slack',

    async postCard(destination, view: ApprovalView) {
      const msg = renderApprovalCard(view);
      const res = await call('chat.postMessage', () => web.chat.postMessage({ channel: destination, text: msg.text, blocks: msg.blocks, unfurl_links: false, unfurl_media: false }));
      if (!res.channel || !res.ts) throw new ChannelError('invalid_response', 'Slack chat.postMessage: no channel/ts in the answer', true);
      const ref: SlackMessageRef = { channel: res.channel, ts: res.ts };
      return ref;
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
