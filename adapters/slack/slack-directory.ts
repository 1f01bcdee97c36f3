/**
 * Who a Slack user is, in the terms the core's identity rules use. A Slack click only carries a user id; the core
 * compares people by email across Slack, Teams and the API, so every clicking user is resolved with `users.info`.
 * Answers are cached in a bounded LRU with a TTL: a burst of clicks costs one API call per person, and an email change
 * or deactivation in Slack is picked up within the TTL.
 */
import type { WebClient } from '@slack/web-api';
import { LRUCache } from 'lru-cache';
import type pino from 'pino';
import type { PersonIdentity } from '../../src/domain/identity';

export interface SlackDirectory {
  /**
   * The person behind a Slack user id: always the Slack id, plus the email and name Slack has for them.
   * @throws when Slack cannot be asked; callers must not vote with a half-known identity.
   */
  person(userId: string): Promise<PersonIdentity>;
  /** The Slack user id for an email, or undefined when the workspace has no such user. */
  userIdByEmail(email: string): Promise<string | undefined>;
  /** True when the user belongs to any of the Slack user groups (`S…` ids). Lookup failures count as "no". */
  inUserGroups(userId: string, groupIds: string[]): Promise<boolean>;
}

export interface SlackDirectoryDeps {
  web: Pick<WebClient, 'users' | 'usergroups'>;
  log: Pick<pino.Logger, 'warn'>;
  /** Most entries kept (SLACK_USER_CACHE_SIZE). */
  cacheSize: number;
  /** How long an answer is trusted (SLACK_USER_CACHE_MS); 0 disables caching. */
  cacheMs: number;
}

/**
 * A cache of in-flight and settled look-ups: concurrent callers share one API call, and failures are forgotten at
 * once so the next caller asks again.
 */
function memo<V extends {}>(size: number, ttl: number): (key: string, load: () => Promise<V>) => Promise<V> {
  if (ttl <= 0) return (_key, load) => load();
  const cache = new LRUCache<string, Promise<V>>({ max: size, ttl });
  return (key, load) => {
    const hit = cache.get(key);
    if (hit) return hit;
    const p = load();
    cache.set(key, p);
    p.catch(() => {
      if (cache.get(key) === p) cache.delete(key);
    });
    return p;
  };
}

/** Builds the cached directory over a WebClient. */
export function createSlackDirectory(deps: SlackDirectoryDeps): SlackDirectory {
  const people = memo<PersonIdentity>(deps.cacheSize, deps.cacheMs);
  // Boxed so that "no such user" can be cached too.
  const emails = memo<{ id?: string }>(deps.cacheSize, deps.cacheMs);
  const groups = memo<Set<string>>(Math.min(deps.cacheSize, 1_000), deps.cacheMs);

  return {
    person(userId) {
      return people(userId, async () => {
        const res = await deps.web.users.info({ user: userId });
        const u = res.user;
        const email = u?.profile?.email?.trim() || undefined;
        const name = u?.real_name || u?.profile?.real_name || u?.profile?.display_name || u?.name || undefined;
        return { slackUserId: userId, ...(email ? { email } : {}), ...(name ? { name } : {}) };
      });
    },

    async userIdByEmail(email) {
      const box = await emails(email.trim().toLowerCase(), async () => {
        try {
          const res = await deps.web.users.lookupByEmail({ email: email.trim() });
          return { id: res.user?.id };
        } catch (err) {
          if ((err as { data?: { error?: string } }).data?.error === 'users_not_found') return {};
          throw err;
        }
      });
      return box.id;
    },

    async inUserGroups(userId, groupIds) {
      for (const group of groupIds) {
        try {
          const members = await groups(group, async () => {
            const res = await deps.web.usergroups.users.list({ usergroup: group });
            return new Set(res.users ?? []);
          });
          if (members.has(userId)) return true;
        } catch (err) {
          deps.log.warn({ err: (err as Error).message, group }, 'could not list Slack user group members; not granting audit access through it');
        }
      }
      return false;
    },
  };
}
