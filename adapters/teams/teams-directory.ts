/**
 * Who clicked. Teams activities carry the user's AAD object id but not their email; the core counts a person once
 * across Slack and Teams by email, so the adapter looks the member up through the Bot Connector (TeamsInfo.getMember)
 * and caches the answer with a size and age bound (TEAMS_MEMBER_CACHE_SIZE / TEAMS_MEMBER_CACHE_MS).
 */
import { TeamsInfo, type TeamsChannelAccount, type TurnContext } from 'botbuilder';
import { LRUCache } from 'lru-cache';
import { AppError } from '../../src/domain/app-error';
import type { PersonIdentity } from '../../src/domain/identity';

export interface TeamsDirectory {
  /**
   * The identity of the activity's sender: AAD object id plus email (or UPN) and name.
   * @throws {@link AppError} `member_lookup_failed` when Teams could not tell us who they are; nothing must be
   *   recorded then, or a person who also votes in Slack could be counted twice.
   */
  resolve(context: TurnContext): Promise<PersonIdentity>;
  /** The identity of another member of the conversation (e.g. someone @mentioned in a command). */
  lookup(context: TurnContext, userId: string): Promise<PersonIdentity>;
}

/** Teams invokes must be answered within seconds; a member lookup that hangs must not eat that budget. */
const LOOKUP_TIMEOUT_MS = 4_000;

function tenantOf(context: TurnContext): string {
  return (context.activity.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id ?? context.activity.conversation?.tenantId ?? '';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`member lookup timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function toIdentity(member: Partial<TeamsChannelAccount>, fallback: { aadObjectId?: string; name?: string } = {}): PersonIdentity {
  const identity: PersonIdentity = {};
  const aad = member.aadObjectId ?? fallback.aadObjectId;
  if (aad) identity.teamsUserId = aad.toLowerCase();
  // Email first: it is what policies and the Slack adapter know people by. The UPN is the sign-in name and usually
  // equals the email; guests and some tenants have only one of them.
  const email = member.email || member.userPrincipalName;
  if (email) identity.email = email.toLowerCase();
  const name = member.name || fallback.name;
  if (name) identity.name = name;
  return identity;
}

export function createTeamsDirectory(opts: { cacheSize: number; cacheMs: number; lookupTimeoutMs?: number }): TeamsDirectory {
  // TEAMS_MEMBER_CACHE_MS=0 means "do not cache" (lru-cache would read a ttl of 0 as "forever").
  const cache = opts.cacheMs > 0 ? new LRUCache<string, PersonIdentity>({ max: opts.cacheSize, ttl: opts.cacheMs }) : undefined;
  const timeoutMs = opts.lookupTimeoutMs ?? LOOKUP_TIMEOUT_MS;

  async function fetchMember(context: TurnContext, userId: string, fallback: { aadObjectId?: string; name?: string }): Promise<PersonIdentity> {
    const key = `${tenantOf(context)}|${(fallback.aadObjectId ?? userId).toLowerCase()}`;
    const cached = cache?.get(key);
    if (cached) return cached;
    let member: TeamsChannelAccount;
    try {
      member = await withTimeout(TeamsInfo.getMember(context, userId), timeoutMs);
    } catch (err) {
      throw new AppError('member_lookup_failed', 'Countersign could not look up your Teams profile, so nothing was recorded. Please try again in a moment.', {
        cause: (err as Error)?.message,
      });
    }
    const identity = toIdentity(member, fallback);
    cache?.set(key, identity);
    return identity;
  }

  return {
    async resolve(context) {
      const from = context.activity.from ?? { id: '' };
      if (!from.id) throw new AppError('unidentified_sender', 'The Teams activity does not say who sent it.');
      return fetchMember(context, from.id, { aadObjectId: from.aadObjectId, name: from.name });
    },
    lookup(context, userId) {
      return fetchMember(context, userId, {});
    },
  };
}
