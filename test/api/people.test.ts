/**
 * The people directory: declared in the policy, managed with the CLI and the admin API, stored in PostgreSQL, every
 * change audited, reloaded by every node, and refusing an identity claimed by two people.
 */
import { runCli } from '../../src/cli/cli';
import { parseBootstrapKeys } from '../../src/services/api-key-service';
import { baseRequest, startTestApp, TEST_POLICY, type TestApp } from '../support/start-app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ env: { DIRECTORY_REFRESH_MS: '200' } });
});
afterAll(async () => {
  await t?.close();
});

const events = async (type: string) => (await t.call('GET', `/v1/audit?type=${type}`)).body.items.map((e: { actor: { key: string }; data: Record<string, unknown> }) => ({ actor: e.actor.key, ...e.data }));

it('manages people through the admin API, audits every change, and uses them at once for votes', async () => {
  const added = await t.call('POST', '/v1/people', { body: { id: 'grace', name: 'Grace Hopper', identities: ['grace@example.com', 'slack:U0000GRACE'] } });
  expect(added.status).toBe(201);
  expect(added.body).toMatchObject({ id: 'grace', source: 'api', identities: [{ identity: 'grace@example.com' }, { identity: 'slack:U0000GRACE' }] });
  expect(await events('person.added')).toContainEqual(expect.objectContaining({ actor: 'key:admin', person: 'grace' }));

  // Grace is the person a request is made for: her Slack identity is refused as her.
  const { body } = await t.submit(baseRequest({ onBehalfOf: { slackUserId: 'U0000GRACE' } }));
  const res = await t.call('POST', `/v1/requests/${body.id}/decisions`, { key: t.keys.approver, body: { approver: { email: 'grace@example.com' }, decision: 'approve' } });
  expect(res.body.error.code).toBe('self_approval');

  const linked = await t.call('POST', '/v1/people/grace/identities', { body: { identity: 'teams:00000000-0000-4000-8000-0000000000aa' } });
  expect(linked.status).toBe(201);
  const claimed = await t.call('POST', '/v1/people', { body: { id: 'imposter', identities: ['grace@example.com'] } });
  expect(claimed.status).toBe(409);
  expect(claimed.body.error.code).toBe('identity_claimed');
  expect((await t.call('GET', '/v1/people')).body.items.map((p: { id: string }) => p.id)).not.toContain('imposter');

  const unlink = await t.call('DELETE', `/v1/people/grace/identities/${encodeURIComponent('slack:U0000GRACE')}`);
  expect(unlink.status).toBe(204);
  expect(await events('person.unlinked')).toContainEqual(expect.objectContaining({ person: 'grace', identity: 'slack:U0000GRACE' }));
  expect((await t.call('DELETE', '/v1/people/grace')).status).toBe(204);
  expect(await events('person.removed')).toContainEqual(expect.objectContaining({ person: 'grace' }));
  expect((await t.call('DELETE', '/v1/people/grace')).status).toBe(404);
});

it('needs the admin scope', async () => {
  const res = await t.call('POST', '/v1/people', { key: t.keys.approver, body: { id: 'x', identities: ['x@example.com'] } });
  expect(res.status).toBe(403);
  expect(res.body.error.code).toBe('forbidden');
});

it('manages people with the CLI; a running node picks the change up without a restart', async () => {
  const out: string[] = [];
  const env = { DATABASE_URL: t.database.url, POLICY_FILE: t.config.POLICY_FILE, USER: 'ops' };
  expect(await runCli(['people', 'add', '--id', 'heidi', '--name', 'Heidi', '--identity', 'heidi@example.com'], (s) => out.push(s), env)).toBe(0);
  expect(await runCli(['people', 'link', '--person', 'heidi', '--identity', 'slack:U0000HEIDI'], (s) => out.push(s), env)).toBe(0);
  expect(await runCli(['people', 'list'], (s) => out.push(s), env)).toBe(0);
  expect(out.join('\n')).toMatch(/heidi\tHeidi\tcli\theidi@example.com slack:U0000HEIDI/);
  expect(await events('person.linked')).toContainEqual(expect.objectContaining({ actor: 'cli:ops', person: 'heidi', identity: 'slack:U0000HEIDI' }));
  // The service reloads the directory it did not change itself.
  await t.waitFor(async () => t.app.services.directory.current().person('heidi')?.identities.length === 2, 5_000, 'the node to reload the directory');
  expect(await runCli(['people', 'add', '--id', 'Bad Id', '--identity', 'x@example.com'], (s) => out.push(s), env)).toBe(1);
  expect(out.at(-1)).toMatch(/person ids use a-z/);
});

it('refuses to create a key that could approve its own requests or has nobody responsible for it', async () => {
  const out: string[] = [];
  const env = { DATABASE_URL: t.database.url };
  expect(await runCli(['keys', 'create', '--name', 'ownerless', '--scopes', 'submit+read'], (s) => out.push(s), env)).toBe(64);
  expect(out.at(-1)).toMatch(/a key with `submit` must have an owner/);
  expect(await runCli(['keys', 'create', '--name', 'both', '--scopes', 'submit+decide', '--owner', 'ops@example.com'], (s) => out.push(s), env)).toBe(64);
  expect(out.at(-1)).toMatch(/never holds `submit` together with `decide`/);
  expect(() => parseBootstrapKeys('ci:abcdefghijklmnop:submit+read')).toThrow(/API_KEYS entry 1 \(ci\): a key with `submit` must have an owner/);
});

it('stops start-up when an identity is claimed by two people, naming both', async () => {
  const clash = TEST_POLICY.replace('people:', `people:
  - id: one
    identities: [same@example.com]
  - id: two
    identities: [SAME@example.com]`);
  await expect(startTestApp({ policyYaml: clash })).rejects.toThrow(/identity same@example.com is claimed by two people: "one" and "two"/);
});

it('stops start-up when the policy declares an identity a person added with the CLI already has', async () => {
  expect(await runCli(['people', 'add', '--id', 'zed', '--identity', 'zed@example.com'], () => undefined, { DATABASE_URL: t.database.url, POLICY_FILE: t.config.POLICY_FILE })).toBe(0);
  const clash = TEST_POLICY.replace('people:', `people:
  - id: zee
    identities: [zed@example.com]`);
  await expect(startTestApp({ policyYaml: clash, database: t.database, keepDatabase: true })).rejects.toThrow(/zed@example.com already belongs to person "zed"/);
});
