/** The API key service on an in-memory store: digests only, the cache, env-bootstrapped keys and revocation. */
import { createApiKeyService, hashSecret } from '../../src/services/api-key-service';
import { createMemoryApiKeyStore } from '../fakes/memory-api-key-store';

function setup(cacheMs = 0) {
  const keys = createMemoryApiKeyStore();
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const service = createApiKeyService({ keys, audit: { append: async (e) => void events.push(...e) }, cacheMs });
  return { keys, events, service };
}

describe('API key service', () => {
  it('stores only a digest and authenticates the secret it printed', async () => {
    const { keys, service, events } = setup();
    const { secret, principal } = await service.create({ name: 'agent', scopes: ['submit', 'read'], owner: 'Ops@Example.com', actor: 'test' });
    expect(keys.rows[0].secretHash).toBe(hashSecret(secret));
    expect(JSON.stringify(keys.rows)).not.toContain(secret);
    expect(principal.owner).toBe('ops@example.com');
    expect(await service.authenticate(`Bearer ${secret}`)).toMatchObject({ name: 'agent', scopes: ['submit', 'read'] });
    expect(events.map((e) => e.type)).toEqual(['api_key.created']);
  });

  it.each([undefined, 'Basic abc', 'Bearer', 'Bearer cs_unknown'])('refuses %s', async (header) => {
    const { service } = setup();
    await expect(service.authenticate(header)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('keeps a key bootstrapped from API_KEYS only while the configuration lists it', async () => {
    const { service } = setup();
    await service.bootstrap([{ name: 'ci', secret: 'abcdefghijklmnopq', scopes: ['submit'], owner: 'ops@example.com' }]);
    expect((await service.authenticate('Bearer abcdefghijklmnopq')).name).toBe('ci');
    await service.bootstrap([]);
    await expect(service.authenticate('Bearer abcdefghijklmnopq')).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('refuses to bootstrap over a key created with the CLI', async () => {
    const { service } = setup();
    await service.create({ name: 'shared', scopes: ['read'], owner: 'ops@example.com', actor: 'test' });
    await expect(service.bootstrap([{ name: 'shared', secret: 'abcdefghijklmnopq', scopes: ['read'], owner: 'ops@example.com' }])).rejects.toThrow(/created with the CLI/);
  });

  it('caches look-ups, and a revocation takes effect at once on this node', async () => {
    const { keys, service } = setup(60_000);
    const { secret } = await service.create({ name: 'agent', scopes: ['read'], owner: 'ops@example.com', actor: 'test' });
    await service.authenticate(`Bearer ${secret}`);
    await service.authenticate(`Bearer ${secret}`);
    expect(keys.lookups).toBe(1);
    expect(await service.revoke('agent', 'test')).toBe(true);
    await expect(service.authenticate(`Bearer ${secret}`)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await service.revoke('agent', 'test')).toBe(false);
  });

  it('answers key_exists for a taken name', async () => {
    const { service } = setup();
    await service.create({ name: 'agent', scopes: ['read'], owner: 'ops@example.com', actor: 'test' });
    await expect(service.create({ name: 'agent', scopes: ['read'], owner: 'ops@example.com', actor: 'test' })).rejects.toMatchObject({ code: 'key_exists' });
  });
});
