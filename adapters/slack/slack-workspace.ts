/**
 * Which Slack workspace this installation serves. A Slack app can be installed in more than one workspace, and a
 * shared (Slack Connect) channel brings in users of other organisations; their clicks are signed with the same secret
 * and their profiles may carry any email. So every interaction must come from the one workspace Countersign serves:
 * SLACK_TEAM_ID, or, when that is not set, the workspace the bot token belongs to, asked once from `auth.test` when
 * inbound traffic starts (never per event). Until it is known, interactions are refused.
 */
import type { WebClient } from '@slack/web-api';
import type pino from 'pino';

export interface SlackWorkspace {
  /** The workspace (team id) served; undefined while it is not known yet. */
  teamId(): string | undefined;
  /**
   * Learns the team id from `auth.test` unless configured. Never throws: a failure is logged and retried in the
   * background (1 s, 2 s, … up to a minute), so a Slack outage at start-up does not keep the API down.
   */
  learn(): Promise<void>;
  stop(): void;
}

export function createSlackWorkspace(deps: {
  web: Pick<WebClient, 'auth'>;
  teamId?: string;
  log: Pick<pino.Logger, 'info' | 'error'>;
  /** Each auth.test outcome (a rejected bot token shows here first): the module's readiness follows it. */
  onLearn?: (outcome: { ok: true } | { ok: false; error: unknown }) => void;
}): SlackWorkspace {
  let teamId = deps.teamId;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let learning: Promise<void> | undefined;

  async function attempt(n: number): Promise<void> {
    try {
      const res = await deps.web.auth.test();
      if (!res.team_id) throw new Error('auth.test named no team');
      teamId = res.team_id;
      deps.onLearn?.({ ok: true });
      deps.log.info({ teamId }, 'Slack workspace learned from auth.test');
    } catch (err) {
      if (stopped) return;
      deps.onLearn?.({ ok: false, error: err });
      const delay = Math.min(60_000, 1_000 * 2 ** n);
      deps.log.error({ err, retryInMs: delay }, 'could not learn the Slack workspace (auth.test); Slack interactions are refused until it is known');
      timer = setTimeout(() => void attempt(n + 1), delay);
      timer.unref();
    }
  }

  return {
    teamId: () => teamId,
    learn() {
      if (teamId) return Promise.resolve();
      learning ??= attempt(0);
      return learning;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/**
 * Every workspace an interaction states: where it happened and the clicking user's own (which differs for a user of
 * another organisation in a shared channel). All of them must be the served workspace.
 */
export function statedTeams(body: unknown): string[] {
  const b = (body ?? {}) as { team?: { id?: unknown } | null; team_id?: unknown; user?: { team_id?: unknown }; view?: { team_id?: unknown } };
  const ids = [b.team?.id, b.team_id, b.user?.team_id, b.view?.team_id];
  return [...new Set(ids.filter((x): x is string => typeof x === 'string' && x.length > 0))];
}
