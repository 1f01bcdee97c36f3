/**
 * The people directory, as the rest of the service uses it: an in-memory {@link Directory} (so identifying a voter costs
 * no query), loaded from PostgreSQL after the policy file's `people:` are synced into it, reloaded whenever its version
 * moves (a change on this node at once; one made by the CLI or another node within DIRECTORY_REFRESH_MS), and every
 * change audited.
 */
import type pino from 'pino';
import { ConfigError } from '../config/config-error';
import { AppError } from '../domain/app-error';
import type { AuditEventInput } from '../domain/audit-event';
import {
  Directory,
  formatIdentity,
  identityKey,
  implicitPersonId,
  isIdentity,
  parseIdentity,
  PERSON_ID_PATTERN,
  type Identity,
  type LinkSource,
  type Person,
  type PresentedIdentity,
} from '../domain/people';
import type { Policy } from '../domain/policy';
import type { PeopleStore } from '../store/people-store';
import type { AuditService } from './audit-service';

/** The person behind a presented identity. */
export interface Identified {
  /** The directory person, when there is one. */
  person?: Person;
  /**
   * The person id rules compare: the directory person's, else the implicit id of what was presented — the email the
   * platform verified first (so an unknown clicker is the same implicit person a request names by that email), then
   * the platform identity, then what an integration asserted. Null when nothing was presented.
   */
  personId: string | null;
  /** The person ids of every identity presented (see Voter.alsoKnownAs). */
  alsoKnownAs: string[];
}

export interface DirectoryService {
  /** The directory as of the last load (in memory). */
  current(): Directory;
  /**
   * Syncs the policy's people into storage and loads the directory.
   * @throws ConfigError listing every conflict (an identity claimed by two people, a group naming an unknown person).
   */
  load(policy: Policy): Promise<void>;
  /** Reloads when the stored version moved; returns whether it did. */
  refresh(): Promise<boolean>;
  /**
   * Identifies whoever presented `presented` on `channel`. A platform identity found by the email its platform verified
   * (policy `identity.linkByEmail`) is linked to that person, and the link recorded and audited.
   */
  identify(presented: PresentedIdentity, channel: string): Promise<Identified>;
  /** The person id a reference (person id or identity) stands for, or null for no reference. */
  personIdOf(ref: string | null | undefined): string | null;
  add(input: { id: string; name?: string; identities: string[]; source: 'cli' | 'api' }, actor: string): Promise<Person>;
  link(personId: string, identity: string, actor: string): Promise<Person>;
  unlink(identity: string, actor: string): Promise<boolean>;
  remove(personId: string, actor: string): Promise<boolean>;
}

const LINK_SOURCE: Record<string, LinkSource> = { slack: 'slack-profile-email', teams: 'teams-verified-email', web: 'idp-verified-email' };

function parseOrThrow(text: string, field: string): Identity {
  const parsed = parseIdentity(text);
  if (!isIdentity(parsed)) throw new AppError('validation_failed', `Invalid field \`${field}\`: ${parsed.error}.`, { field });
  return parsed;
}

export function createDirectoryService(deps: {
  people: PeopleStore;
  audit: Pick<AuditService, 'append'>;
  policy: () => Policy;
  log: Pick<pino.Logger, 'info' | 'warn'>;
  clock?: () => Date;
}): DirectoryService {
  const clock = deps.clock ?? (() => new Date());
  let directory = Directory.empty();
  let version = -1n;

  async function rebuild(): Promise<void> {
    const v = await deps.people.version();
    const stored = await deps.people.list();
    const built = Directory.build(stored, deps.policy().mentionedIdentities);
    if (!built.ok) throw new ConfigError(built.problems, 'Invalid people directory');
    const problems: string[] = [];
    for (const [group, refs] of Object.entries(deps.policy().groups)) {
      for (const ref of refs) if (PERSON_ID_PATTERN.test(ref) && !built.directory.person(ref)) problems.push(`group "${group}" names person "${ref}", who is not in the directory`);
    }
    if (problems.length) throw new ConfigError(problems, 'Invalid policy groups');
    directory = built.directory;
    version = v;
  }

  function event(type: string, actor: string, data: Record<string, unknown>): AuditEventInput {
    return { type, requestId: null, actor: { key: actor }, channel: actor.startsWith('key:') ? 'api' : actor.startsWith('cli:') ? 'cli' : 'system', at: clock(), data };
  }

  const personOrThrow = (id: string): Person => {
    const p = directory.person(id);
    if (!p) throw new AppError('not_found', `No person with id "${id}".`, { field: 'person' });
    return p;
  };

  return {
    current: () => directory,

    async load(policy) {
      try {
        const synced = await deps.people.syncPolicy(policy.people);
        const changes = synced.added.length + synced.changed.length + synced.removed.length + synced.absorbed.length;
        if (changes) await deps.audit.append([event('directory.policy_synced', 'policy', { policyHash: policy.hash, ...synced })]);
      } catch (err) {
        if (err instanceof AppError) throw new ConfigError([err.message], 'Invalid people directory');
        throw err;
      }
      await rebuild();
    },

    async refresh() {
      if ((await deps.people.version()) === version) return false;
      await rebuild();
      deps.log.info({ people: directory.list().length }, 'people directory reloaded');
      return true;
    },

    async identify(presented, channel) {
      const found = directory.identify(presented, { linkByEmail: deps.policy().linkByEmail });
      if (found.person && found.link) {
        const link = found.link;
        try {
          await deps.people.link(found.person.id, link, LINK_SOURCE[channel] ?? 'idp-verified-email');
          await deps.audit.append([
            event('person.linked', 'system', { person: found.person.id, identity: formatIdentity(link), verifiedBy: LINK_SOURCE[channel] ?? 'idp-verified-email', verifiedEmail: presented.verifiedEmail, channel }),
          ]);
          await rebuild();
        } catch (err) {
          // The vote still counts for the person the verified email names; the link is an optimisation for next time.
          deps.log.warn({ err, person: found.person.id, identity: identityKey(link) }, 'could not record an identity link; it will be retried on the next action');
        }
      }
      const dir = directory;
      const email = presented.verifiedEmail ? parseIdentity(presented.verifiedEmail) : undefined;
      const all = [...(email && isIdentity(email) ? [email] : []), ...(presented.platform ? [presented.platform] : []), ...(presented.asserted ?? [])];
      const alsoKnownAs = [...new Set(all.map((i) => dir.personIdOf(i)))];
      if (found.person) return { person: found.person, personId: found.person.id, alsoKnownAs };
      return { personId: all[0] ? implicitPersonId(all[0]) : null, alsoKnownAs };
    },

    personIdOf(ref) {
      if (!ref) return null;
      const p = directory.resolveRef(ref);
      if (p) return p.id;
      const parsed = parseIdentity(ref);
      return isIdentity(parsed) ? implicitPersonId(parsed) : ref;
    },

    async add(input, actor) {
      if (!PERSON_ID_PATTERN.test(input.id)) throw new AppError('validation_failed', 'Invalid field `id`: person ids use a-z, 0-9, . _ - (no @ or :).', { field: 'id' });
      const identities = input.identities.map((t, i) => ({ identity: parseOrThrow(t, `identities.${i}`), verifiedBy: 'declared' as const }));
      const person: Person = { id: input.id, name: input.name, source: input.source, identities };
      await deps.people.add(person);
      await deps.audit.append([event('person.added', actor, { person: person.id, name: person.name ?? null, identities: identities.map((l) => formatIdentity(l.identity)) })]);
      await rebuild();
      return personOrThrow(person.id);
    },

    async link(personId, identityText, actor) {
      const identity = parseOrThrow(identityText, 'identity');
      await deps.people.link(personId, identity, 'declared');
      await deps.audit.append([event('person.linked', actor, { person: personId, identity: formatIdentity(identity), verifiedBy: 'declared' })]);
      await rebuild();
      return personOrThrow(personId);
    },

    async unlink(identityText, actor) {
      const identity = parseOrThrow(identityText, 'identity');
      const owner = directory.resolve(identity);
      const removed = await deps.people.unlink(identity);
      if (removed) {
        await deps.audit.append([event('person.unlinked', actor, { person: owner?.id ?? null, identity: formatIdentity(identity) })]);
        await rebuild();
      }
      return removed;
    },

    async remove(personId, actor) {
      const person = directory.person(personId);
      if (person?.source === 'policy') throw new AppError('forbidden', `Person "${personId}" is declared in the policy file; remove them there.`);
      const removed = await deps.people.remove(personId);
      if (removed) {
        await deps.audit.append([event('person.removed', actor, { person: personId, identities: person?.identities.map((l) => formatIdentity(l.identity)) ?? [] })]);
        await rebuild();
      }
      return removed;
    },
  };
}
