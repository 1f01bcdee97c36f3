/**
 * Slack as src/platforms.ts registers it: its configuration, the core ports it uses, and how to build it. Bolt and
 * the Web API client are loaded only when Slack is switched on.
 */
import type { ChatPlatform } from '../../src/channels/channel-module';
import { slackConfig, type slackConfigShape } from './slack-config';

export const SLACK_PORTS = ['decisions', 'queries', 'commands', 'audit'] as const;
export type SlackPort = (typeof SLACK_PORTS)[number];

export const slackPlatform: ChatPlatform<typeof slackConfigShape, SlackPort> = {
  kind: 'slack',
  config: slackConfig,
  ports: SLACK_PORTS,
  async create(deps) {
    const { createSlackModule } = await import('./slack-module');
    return createSlackModule(deps);
  },
};
