/**
 * The people directory's storage: people, their identities (each identity belongs to at most one person, enforced by
 * its primary key) and a version counter every change bumps, so each node can tell its in-memory copy is stale.
 */
import { AppError } from '../domain/app-error';
import { identityKey, implicitPersonId, parseIdentity, type Identity, type LinkSource, type Person, type PersonSource } from '../domain/people';
import { isUniqueViolation, type Database } from './database';

/** What a policy sync changed, by person id. */
export interface PolicySyncResult {
  added: string[];
  changed: string[];
  removed: string[];
  /** Implicit people whose identities a declared person took over. */
  absorbed: string[];
}

/** Port of the people directory's storage. */
export interface PeopleStore {
  /** Every stored person with their identities. */
  list(): Promise<Person[]>;
  /** The directory version: changes whenever anything in the directory changes. */
  version(): Promise<bigint>;
  /**
   * Makes the people declared in the policy file (`source: policy`) exactly `people`, in one transaction. A declared
   * identity held by an implicit person moves to the declared person (the implicit one is absorbed).
   * @throws AppError `identity_claimed` when a declared identity belongs to a person declared elsewhere (CLI, API).
   */
  syncPolicy(people: Person[]): Promise<PolicySyncResult>;
  /**
   * Adds a person with their identities.
   * @throws AppError `person_exists` or `identity_claimed`.
   */
  add(person: Person): Promise<void>;
  /**
   * Links an identity to a person. An implicit person (an identity named on its own) is created on first use.
   * @throws AppError `not_found` (no such declared person) or `identity_claimed` (the identity is someone else's).
   */
  link(personId: string, identity: Identity, verifiedBy: LinkSource): Promise<void>;
  /** Removes an identity from whoever has it; false when nobody did. */
  unlink(identity: Identity): Promise<boolean>;
  /** Removes a person and their identities; false when there was none. */
  remove(personId: string): Promise<boolean>;
}

type Tx = Pick<Database, 'person' | 'personIdentity' | 'directoryVersion'>;

async function bump(tx: Tx): Promise<void> {
  await tx.directoryVersion.update({ where: { id: 1 }, data: { version: { increment: 1 } } });
}

function claimed(identity: string, owner?: string): AppError {
  return new AppError('identity_claimed', `The identity ${identity} already belongs to ${owner ? `person "${owner}"` : 'another person'}.`, { identity, owner });
}

async function insertIdentities(tx: Tx, personId: string, links: Person['identities']): Promise<void> {
  for (const l of links) {
    const key = identityKey(l.identity);
    const existing = await tx.personIdentity.findUnique({ where: { identity: key } });
    if (existing && existing.personId !== personId) throw claimed(key, existing.personId);
    if (!existing) await tx.personIdentity.create({ data: { identity: key, personId, scope: l.identity.scope ?? null, verifiedBy: l.verifiedBy } });
  }
}

function toPerson(row: { id: string; name: string | null; source: string; identities: { identity: string; scope: string | null; verifiedBy: string }[] }): Person {
  return {
    id: row.id,
    ...(row.name ? { name: row.name } : {}),
    source: row.source as PersonSource,
    identities: row.identities.flatMap((i) => {
      const parsed = parseIdentity(i.identity);
      if ('error' in parsed) return [];
      return [{ identity: i.scope ? { ...parsed, scope: i.scope } : parsed, verifiedBy: i.verifiedBy as LinkSource }];
    }),
  };
}

export function createPeopleStore(deps: { db: Pick<Database, 'person' | 'personIdentity' | 'directoryVersion' | '$transaction'> }): PeopleStore {
  const { db } = deps;
  const inTx = <T>(fn: (tx: Tx) => Promise<T>): Promise<T> =>
    db.$transaction(async (tx) => {
      const result = await fn(tx);
      await bump(tx);
      return result;
    }).catch((err: unknown) => {
      if (isUniqueViolation(err)) throw new AppError('identity_claimed', 'One of these identities already belongs to another person.');
      throw err;
    });

  return {
    async list() {
      const rows = await db.person.findMany({ include: { identities: true }, orderBy: { id: 'asc' } });
      return rows.map(toPerson);
    },

    async version() {
      const row = await db.directoryVersion.findUnique({ where: { id: 1 } });
      return row?.version ?? 0n;
    },

    syncPolicy(people) {
      return inTx(async (tx) => {
        const result: PolicySyncResult = { added: [], changed: [], removed: [], absorbed: [] };
        const declared = new Set(people.map((p) => p.id));
        for (const stale of await tx.person.findMany({ where: { source: 'policy', id: { notIn: [...declared] } } })) {
          await tx.person.delete({ where: { id: stale.id } });
          result.removed.push(stale.id);
        }
        for (const p of people) {
          const existing = await tx.person.findUnique({ where: { id: p.id }, include: { identities: true } });
          if (existing && existing.source !== 'policy') {
            throw new AppError('person_exists', `Person "${p.id}" is declared in the policy file and was also added with the ${existing.source === 'api' ? 'admin API' : 'CLI'}; remove one of them.`);
          }
          const wanted = new Set(p.identities.map((l) => identityKey(l.identity)));
          // An identity the policy now gives this person may be held by an implicit person: take it over.
          for (const key of wanted) {
            const holder = await tx.personIdentity.findUnique({ where: { identity: key }, include: { person: true } });
            if (!holder || holder.personId === p.id) continue;
            if (holder.person.source !== 'implicit') throw claimed(key, holder.personId);
            if (!result.absorbed.includes(holder.personId)) result.absorbed.push(holder.personId);
          }
          if (!existing) {
            await tx.person.create({ data: { id: p.id, name: p.name ?? null, source: 'policy' } });
            result.added.push(p.id);
          } else {
            const before = new Set(existing.identities.map((i) => i.identity));
            const same = existing.name === (p.name ?? null) && before.size === wanted.size && [...wanted].every((k) => before.has(k));
            if (!same) result.changed.push(p.id);
            await tx.person.update({ where: { id: p.id }, data: { name: p.name ?? null, updatedAt: new Date() } });
            // Declared identities the policy dropped go; links recorded later (by verified email) stay.
            await tx.personIdentity.deleteMany({ where: { personId: p.id, verifiedBy: 'declared', identity: { notIn: [...wanted] } } });
          }
        }
        for (const implicit of result.absorbed) {
          const target = people.find((p) => p.identities.some((l) => identityKey(l.identity) === implicit))?.id;
          if (target) await tx.personIdentity.updateMany({ where: { personId: implicit }, data: { personId: target } });
          await tx.person.delete({ where: { id: implicit } });
        }
        for (const p of people) await insertIdentities(tx, p.id, p.identities);
        return result;
      });
    },

    add(person) {
      return inTx(async (tx) => {
        if (await tx.person.findUnique({ where: { id: person.id } })) throw new AppError('person_exists', `A person with id "${person.id}" already exists.`, { field: 'id' });
        await tx.person.create({ data: { id: person.id, name: person.name ?? null, source: person.source } });
        await insertIdentities(tx, person.id, person.identities);
      });
    },

    link(personId, identity, verifiedBy) {
      return inTx(async (tx) => {
        let person = await tx.person.findUnique({ where: { id: personId } });
        if (!person) {
          // An implicit person (named by one identity) gets a row the first time something is linked to it.
          const parsed = parseIdentity(personId);
          if ('error' in parsed || implicitPersonId(parsed) !== personId) throw new AppError('not_found', `No person with id "${personId}".`, { field: 'person' });
          person = await tx.person.create({ data: { id: personId, source: 'implicit' } });
          await insertIdentities(tx, personId, [{ identity: parsed, verifiedBy: 'declared' }]);
        }
        await insertIdentities(tx, personId, [{ identity, verifiedBy }]);
      });
    },

    async unlink(identity) {
      return inTx(async (tx) => (await tx.personIdentity.deleteMany({ where: { identity: identityKey(identity) } })).count > 0);
    },

    async remove(personId) {
      return inTx(async (tx) => (await tx.person.deleteMany({ where: { id: personId } })).count > 0);
    },
  };
}
