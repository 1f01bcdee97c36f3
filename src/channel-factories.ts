/** The chat platforms this build ships. Each is switched on by its configuration (see enabledChannels). */
import { createTeamsModule } from '../adapters/teams/teams-module';
import type { ChannelModuleFactory } from './app';

export const channelFactories: ChannelModuleFactory[] = [
  { kind: 'teams', create: (deps) => createTeamsModule(deps) },
];
