/** The chat platforms this build ships. Each is switched on by its configuration (see enabledChannels). */
import { createSlackModule } from '../adapters/slack/slack-module';
import { createTeamsModule } from '../adapters/teams/teams-module';
import type { ChannelModuleFactory } from './app';

export const channelFactories: ChannelModuleFactory[] = [
  { kind: 'slack', create: (deps) => createSlackModule(deps) },
  { kind: 'teams', create: (deps) => createTeamsModule(deps) },
];
