/** The chat platforms this build ships. Each is switched on by its configuration (see enabledChannels). */
import type { ChannelModuleFactory } from './app';

export const channelFactories: ChannelModuleFactory[] = [];
