/** The people directory's admin API (scope `admin`): what the CLI's `people` commands do, over HTTP. */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError } from '../../domain/app-error';
import { formatIdentity, type Person } from '../../domain/people';
import type { DirectoryService } from '../../services/directory-service';
import { peopleRoutes } from '../contract/contract';
import { fromContract } from './route-options';

function toJson(p: Person) {
  return {
    id: p.id,
    ...(p.name ? { name: p.name } : {}),
    source: p.source,
    identities: p.identities.map((l) => ({ identity: formatIdentity(l.identity), verifiedBy: l.verifiedBy })),
  };
}

export function registerPeopleRoutes(instance: FastifyInstance, deps: { directory: DirectoryService }): void {
  const app = instance.withTypeProvider<ZodTypeProvider>();
  const actor = (name: string) => `key:${name}`;

  app.route({
    ...fromContract(peopleRoutes.listPeople),
    handler: async () => {
      await deps.directory.refresh();
      return { items: deps.directory.current().list().sort((a, b) => a.id.localeCompare(b.id)).map(toJson) };
    },
  });

  app.route({
    ...fromContract(peopleRoutes.addPerson),
    handler: async (req, reply) => {
      const p = await deps.directory.add({ ...req.body, source: 'api' }, actor(req.principal.name));
      void reply.status(201);
      return toJson(p);
    },
  });

  app.route({
    ...fromContract(peopleRoutes.linkIdentity),
    handler: async (req, reply) => {
      const p = await deps.directory.link(req.params.id, req.body.identity, actor(req.principal.name));
      void reply.status(201);
      return toJson(p);
    },
  });

  app.route({
    ...fromContract(peopleRoutes.unlinkIdentity),
    handler: async (req, reply) => {
      const owner = deps.directory.current().resolveRef(req.params.identity);
      if (!owner || owner.id !== req.params.id) throw new AppError('not_found', `Person "${req.params.id}" has no identity ${req.params.identity}.`, { field: 'identity' });
      await deps.directory.unlink(req.params.identity, actor(req.principal.name));
      return reply.status(204).send(null);
    },
  });

  app.route({
    ...fromContract(peopleRoutes.removePerson),
    handler: async (req, reply) => {
      if (!(await deps.directory.remove(req.params.id, actor(req.principal.name)))) throw new AppError('not_found', `No person "${req.params.id}".`, { field: 'id' });
      return reply.status(204).send(null);
    },
  });
}
