/**
 * Microsoft Teams as src/platforms.ts registers it: its configuration, the core ports it uses, and how to build it.
 * botbuilder is loaded only when Teams is switched on.
 */
import type { ChatPlatform } from '../../src/channels/channel-module';
import { teamsConfig, type teamsConfigShape } from './teams-config';

export const TEAMS_PORTS = ['decisions', 'queries', 'commands', 'groupMembers', 'teamsConversations', 'audit'] as const;
export type TeamsPort = (typeof TEAMS_PORTS)[number];

export const teamsPlatform: ChatPlatform<typeof teamsConfigShape, TeamsPort> = {
  kind: 'teams',
  config: teamsConfig,
  ports: TEAMS_PORTS,
  async create(deps) {
    const { createTeamsModule } = await import('./teams-module');
    return createTeamsModule(deps);
  },
};
