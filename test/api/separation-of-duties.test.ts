/**
 * Issue 8's reproductions through the real HTTP surface: each tries a bypass that worked on the old main, shows it
 * refused (and recorded), and shows the legitimate path still working. The chat ones are in test/slack, test/teams
 * and test/sod.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCallbackHostPolicy } from '../../src/deliveries/callback-guard';
import { baseRequest, KEYS, startTestApp, type TestApp } from '../support/start-app';

const POLICY = `
version: 1
people:
  # The owner of the agent's key also sits in an approver group under their Slack id: one person.
  - id: owner
    name: Olive Owner
    identities: [owner@example.com, "slack:U0000OWNER"]
  - id: carol
    name: Carol Example
    identities: [carol@example.com, "teams:00000000-0000-0000-0000-0000000ca201"]
missingRisk: critical
groups:
  approvers: [alice@example.com, bob@example.com, carol, "slack:U0000OWNER"]
  security: [dave@example.com]
rules:
  - name: routine-dev
    match: { action: "service.restart", environment: dev }
    outcome: approve
  - name: agent-iam
    match: { action: "iam.*", requesterType: agent }
    outcome: require
    approvers: [security]
  - name: low-risk-reads
    match: { action: "table.read", risk: low }
    outcome: approve
  - name: short-lived
    match: { action: "db.migrate" }
    outcome: require
    approvers: [approvers]
    ttlSeconds: 900
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
`;

const SECRETS = {
  owners: 'owner-agent-secret-0123456789ab',
  sibling: 'owner-sibling-secret-0123456789',
  ownerDecides: 'owner-decide-secret-0123456789',
  bobDecides: 'bob-decide-secret-0123456789ab',
  pinned: 'pinned-agent-secret-0123456789',
};

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    policyYaml: POLICY,
    env: {
      API_KEYS: [
        `owners-agent:${SECRETS.owners}:submit+read:owner@example.com`,
        `owners-portal:${SECRETS.sibling}:attest+read:owner`,
        `owner-votes:${SECRETS.ownerDecides}:decide+read:slack:U0000OWNER`,
        `bob-votes:${SECRETS.bobDecides}:decide+read:bob@example.com`,
        `agent:${KEYS.agent}:submit+read:ops-lead@example.com`,
        `portal:${KEYS.approver}:read+attest:portal-admin@example.com`,
        `admin:${KEYS.admin}:read+audit+admin`,
      ].join(','),
      CALLBACK_SIGNING_SECRET: 'callback-secret-0123456789abcdef',
    },
  });
  await t.app.services.apiKeys.create({
    name: 'pinned-agent', scopes: ['submit', 'read'], owner: 'owner@example.com', actor: 'test',
    pins: { requesterId: 'deploy-agent', requesterType: 'agent', environment: 'production' },
  }).then(({ secret }) => (pinnedSecret = secret));
});
afterAll(async () => {
  await t?.close();
});
let pinnedSecret = '';

const decide = (id: string, key: string, body: Record<string, unknown>) => t.call('POST', `/v1/requests/${id}/decisions`, { key, body });
const refusals = async (id: string) => (await t.call('GET', `/v1/audit?requestId=${id}&type=vote.refused`)).body.items;

describe('1. the owner of the key cannot approve their own agent\'s request under another identity', () => {
  it('refuses them named by their Slack id through an attesting portal, and records it', async () => {
    const { body } = await t.submit(baseRequest({ onBehalfOf: undefined }), { key: SECRETS.owners });
    const res = await decide(body.id, t.keys.approver, { approver: { slackUserId: 'U0000OWNER' }, decision: 'approve' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('self_approval');
    expect(res.body.error.message).toContain('owner of the API key');
    expect((await refusals(body.id))[0].data).toMatchObject({ refusal: 'self_approval', person: 'owner' });
    // Somebody else in the group can.
    const alice = await decide(body.id, t.keys.approver, { approver: { email: 'alice@example.com' }, decision: 'approve' });
    expect(alice.status).toBe(201);
  });

  it('refuses their own decide key too, whatever identity the key was created under', async () => {
    const { body } = await t.submit(baseRequest({ onBehalfOf: undefined }), { key: SECRETS.owners });
    const res = await decide(body.id, SECRETS.ownerDecides, { decision: 'approve' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('self_approval');
  });
});

describe('3. a decide key votes only as its owner', () => {
  it('refuses a key naming another approver, and records the attempt', async () => {
    const { body } = await t.submit(baseRequest(), { key: t.keys.agent });
    const res = await decide(body.id, SECRETS.bobDecides, { approver: { email: 'carol@example.com' }, decision: 'approve' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('approver_mismatch');
    expect((await refusals(body.id))[0].data).toMatchObject({ refusal: 'approver_mismatch', viaKey: 'bob-votes' });
    // The same key voting as its owner works, with or without naming them.
    const ok = await decide(body.id, SECRETS.bobDecides, { decision: 'approve' });
    expect(ok.status).toBe(201);
    const detail = (await t.call('GET', `/v1/requests/${body.id}`)).body;
    expect(detail.votes[0]).toMatchObject({ personKey: 'bob@example.com', attestedBy: null });
  });

  it('refuses a sibling key of the same owner naming someone else (attest), and records which key attested', async () => {
    const { body } = await t.submit(baseRequest({ onBehalfOf: undefined }), { key: SECRETS.owners });
    const res = await decide(body.id, SECRETS.sibling, { approver: { email: 'carol@example.com' }, decision: 'approve' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('self_approval');
    expect(res.body.error.message).toContain('same owner');
    // A portal of someone else attests carol: accepted, and the vote says who attested it.
    const ok = await decide(body.id, t.keys.approver, { approver: { email: 'carol@example.com' }, decision: 'approve' });
    expect(ok.status).toBe(201);
    const detail = (await t.call('GET', `/v1/requests/${body.id}`)).body;
    expect(detail.votes[0]).toMatchObject({ personKey: 'carol', attestedBy: 'portal' });
  });

  it('refuses an unknown approver attested by a portal, and records it', async () => {
    const { body } = await t.submit(baseRequest());
    const res = await decide(body.id, t.keys.approver, { approver: { email: 'stranger@elsewhere.example' }, decision: 'approve' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('unknown_approver');
    expect((await refusals(body.id))[0].data).toMatchObject({ refusal: 'unknown_approver', knownPerson: false });
  });
});

describe('4. nothing the agent chooses weakens its rule', () => {
  it('takes pinned fields from the key and refuses a body that contradicts them', async () => {
    const human = await t.submit(baseRequest({ action: 'iam.grant', requester: { id: 'deploy-agent', type: 'human' } }), { key: pinnedSecret });
    expect(human.status).toBe(400);
    expect(human.body.error).toMatchObject({ code: 'pinned_field', field: 'requester.type' });
    const dev = await t.submit(baseRequest({ action: 'service.restart', environment: 'dev', requester: {} }), { key: pinnedSecret });
    expect(dev.status).toBe(400);
    expect(dev.body.error).toMatchObject({ code: 'pinned_field', field: 'environment' });
    // Leaving them out takes the key's: the agent rule applies (security group), and production is not routine.
    const iam = await t.submit(baseRequest({ action: 'iam.grant', requester: {}, environment: undefined }), { key: pinnedSecret });
    expect(iam.status).toBe(202);
    expect(iam.body).toMatchObject({ status: 'pending', rule: 'agent-iam' });
    const detail = (await t.call('GET', `/v1/requests/${iam.body.id}`)).body;
    expect(detail).toMatchObject({ requester: { id: 'deploy-agent', type: 'agent' }, environment: 'production', pinnedFields: ['requester.id', 'requester.type', 'environment'] });
    const restart = await t.submit(baseRequest({ action: 'service.restart', requester: {}, environment: undefined }), { key: pinnedSecret });
    expect(restart.body).toMatchObject({ status: 'pending', rule: 'default' });
  });

  it('reads a missing risk as the highest for rules that match on risk, and records it', async () => {
    const lowRisk = await t.submit(baseRequest({ action: 'table.read', risk: 'low' }));
    expect(lowRisk.body).toMatchObject({ status: 'approved', rule: 'low-risk-reads' });
    const noRisk = await t.submit(baseRequest({ action: 'table.read', risk: undefined }));
    expect(noRisk.body).toMatchObject({ status: 'pending', rule: 'default' });
    const matched = (await t.call('GET', `/v1/audit?requestId=${noRisk.body.id}&type=policy.matched`)).body.items[0];
    expect(matched.data).toMatchObject({ rule: 'default', assumedRisk: 'critical' });
  });

  it('lets expiresInSeconds shorten the rule\'s TTL but never extend it', async () => {
    const long = await t.submit(baseRequest({ action: 'db.migrate', expiresInSeconds: 168 * 3600 }));
    expect(long.status).toBe(202);
    const ttl = (Date.parse(long.body.expiresAt) - Date.now()) / 1000;
    expect(ttl).toBeLessThanOrEqual(900);
    expect(ttl).toBeGreaterThan(890);
    const short = await t.submit(baseRequest({ action: 'db.migrate', expiresInSeconds: 120 }));
    expect((Date.parse(short.body.expiresAt) - Date.now()) / 1000).toBeLessThanOrEqual(120);
  });
});

describe('9. callbackUrl cannot reach inside', () => {
  let receiver: Server;
  let port: number;
  const hits: string[] = [];
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(200).end();
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    port = (receiver.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => receiver.close(r));
  });

  it.each([
    ['loopback', (p: number) => `http://127.0.0.1:${p}/admin/flush`],
    ['localhost', (p: number) => `http://localhost:${p}/admin`],
    ['an IPv4-mapped loopback', (p: number) => `http://[::ffff:7f00:1]:${p}/admin`],
    ['a decimal loopback', (p: number) => `http://2130706433:${p}/admin`],
    ['the metadata service', () => 'http://169.254.169.254/latest/meta-data/'],
    ['a private address', () => 'https://10.0.0.7/hook'],
  ])('refuses %s at intake and writes nothing', async (_what, url) => {
    const before = await t.db.approvalRequest.count();
    const res = await t.submit(baseRequest({ action: 'service.restart', environment: 'dev', callbackUrl: url(port) }));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'callback_host_refused', field: 'callbackUrl' });
    expect(await t.db.approvalRequest.count()).toBe(before);
    expect(hits).toEqual([]);
  });

  it('refuses a name whose DNS answer points inside, on the address it would connect to', async () => {
    // An attacker's DNS: a public-looking name that answers with loopback (DNS rebinding).
    const policy = createCallbackHostPolicy({
      allowedHosts: [],
      resolve: ((_host: string, _opts: unknown, cb: (err: null, addrs: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }])) as never,
    });
    const checked = policy.check('https://rebind.attacker.example/hook', []);
    expect('target' in checked).toBe(true);
    if (!('target' in checked)) return;
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => policy.lookupFor(checked.target)('rebind.attacker.example', {}, (e) => resolve(e)));
    expect(err?.code).toBe('ECALLBACKREFUSED');
    expect(err?.message).toContain('loopback');
  });
});
