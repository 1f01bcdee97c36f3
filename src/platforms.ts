/**
 * The chat platforms this build ships, one line each. Each brings its own configuration keys (merged into the one
 * schema by src/config/config.ts) and is switched on by them; adding a platform is its folder plus a line here.
 */
import { slackPlatform } from '../adapters/slack/slack-platform';
import { teamsPlatform } from '../adapters/teams/teams-platform';

export const platforms = [slackPlatform, teamsPlatform] as const;
