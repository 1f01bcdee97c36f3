/** The request store against PostgreSQL: the SQL mirror of the state version, and the typed edges of the store. */
import { randomUUID } from 'node:crypto';
import { stateVersion } from '../../src/domain/request-lifecycle';
import { STATE_VERSION_SQL } from '../../src/store/request-store';
import { createStore } from '../../src/store/store';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

let database: TestDatabase;
let store: ReturnType<typeof createStore>;
beforeAll(async () => {
  database = await createTestDatabase();
  store = createStore({ url: database.url, poolSize: 2 });
});
afterAll(async () => {
  await store?.close();
  await database?.drop();
});

async function insertRequest(status: string): Promise<string> {
  const key = await store.db.apiKey.upsert({ where: { name: 'k' }, create: { id: randomUUID(), name: 'k', secretHash: 'h', scopes: [], source: 'cli' }, update: {} });
  const id = randomUUID();
  await store.db.approvalRequest.create({
    data: {
      id, status: status as never, action: 'a', resource: 'r', requesterId: 'x', requesterType: 'agent', requester: {}, apiKeyId: key.id, apiKeyName: 'k',
      bodyHash: 'h', policyRule: 'default', policyOutcome: 'require', policyHash: 'h', expiresAt: new Date(Date.now() + 60_000),
    },
  });
  return id;
}

it.each([
  ['pending', 0],
  ['pending', 2],
  ['approved', 3],
  ['expired', 0],
  ['cancelled', 1],
])('STATE_VERSION_SQL gives what stateVersion() gives for %s with %i votes', async (status, votes) => {
  const id = await insertRequest(status);
  for (let i = 0; i < votes; i++) {
    await store.db.vote.create({ data: { id: randomUUID(), requestId: id, personKey: `p${i}@example.com`, approver: {}, channel: 'api', decision: 'approve' } });
  }
  const [row] = await store.db.$queryRawUnsafe<{ version: string }[]>(`SELECT ${STATE_VERSION_SQL} AS version FROM approval_request r WHERE r.id = $1::uuid`, id);
  expect(row.version).toBe(stateVersion(status as never, votes));
});

it('answers not_found for a change on an unknown request and writes nothing', async () => {
  await expect(store.requests.change(randomUUID(), async () => 'never')).rejects.toMatchObject({ code: 'not_found' });
});

it('rolls the whole change back when the work inside fails', async () => {
  const id = await insertRequest('pending');
  await expect(
    store.requests.change(id, async (tx) => {
      await tx.transition('cancelled', new Date(), 'test', null);
      throw new Error('boom');
    }),
  ).rejects.toThrow('boom');
  expect((await store.requests.get(id))?.status).toBe('pending');
});

it('maps a taken API key name to key_exists (SQLSTATE 23505, not a message)', async () => {
  await store.apiKeys.create({ id: randomUUID(), name: 'dup', secretHash: 'a', scopes: [], owner: null, source: 'cli' });
  await expect(store.apiKeys.create({ id: randomUUID(), name: 'dup', secretHash: 'b', scopes: [], owner: null, source: 'cli' })).rejects.toMatchObject({ code: 'key_exists' });
});
