/**
 * Standing approvals in Slack through the real slash command: `/countersign standing` lists the active ones of rules
 * the user approves (agent text escaped), `/countersign revoke <id>` ends one as that user (channel `slack`, audited),
 * and anybody who does not approve the rule is refused with the API's wording.
 */
import { DATA_CHANNEL, startSlackTestApp, type SlackTestApp } from './slack-test-app';

const POLICY = `
version: 1
people:
  - { id: mallory, name: Mallory Outsider, identities: [mallory@example.com] }
groups:
  approvers: [alice@example.com, bob@example.com]
rules:
  - name: deploys
    match: { action: "deploy.*" }
    outcome: require
    approvers: [approvers]
    channels: ["slack:${DATA_CHANNEL}"]
    reason: none
    standing: { maxFor: 15m, maxUses: 10 }
default: { outcome: deny }
`;

let s: SlackTestApp;
beforeAll(async () => {
  s = await startSlackTestApp({ policyYaml: POLICY });
});
afterAll(async () => {
  await s?.close();
});

const text = (x: unknown) => JSON.stringify(x);
const RESOURCE = 'svc://pay <!channel> *now*';

it('lists the standing approvals a user approves, escaped, and revokes one as that user', async () => {
  const id = await s.submit({ action: 'deploy.service', resource: RESOURCE, requester: { id: 'deploy-bot', type: 'agent' }, environment: 'production' });
  const voted = await s.t.call('POST', `/v1/requests/${id}/decisions`, { key: s.t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve', standing: { for: '15m', uses: 3 } } });
  expect(voted.status).toBe(201);
  const standingId = voted.body.standingApproval.id as string;

  const help = (await s.reply((await s.command('bob', 'help')).responseUrl)).body;
  expect(text(help.blocks)).toContain('`/countersign standing`');

  const listed = (await s.reply((await s.command('bob', 'standing')).responseUrl)).body;
  expect(listed.response_type).toBe('ephemeral');
  const all = text(listed.blocks);
  for (const fact of [standingId, 'deploy.service', 'deploy-bot', '*Granted by* alice@example.com', '3 of 3', `/countersign revoke &lt;id&gt;`]) expect(all).toContain(fact);
  // The agent's resource cannot mention the channel or format the message.
  expect(all).not.toContain('<!channel>');
  expect(all).toContain('&lt;!channel&gt;');

  const outsider = (await s.reply((await s.command('mallory', 'standing')).responseUrl)).body;
  expect(text(outsider.blocks)).toContain('No active standing approvals');
  expect(text(outsider.blocks)).not.toContain(standingId);
  const refused = (await s.reply((await s.command('mallory', `revoke ${standingId}`)).responseUrl)).body;
  expect(text(refused.blocks)).toContain('Only an approver of the rule');
  expect((await s.reply((await s.command('bob', 'revoke nonsense')).responseUrl)).body.text).toContain('Usage');

  // Bob did not grant it: any approver of the rule may end it.
  const revoked = (await s.reply((await s.command('bob', `revoke ${standingId}`)).responseUrl)).body;
  expect(text(revoked.blocks)).toContain(`Standing approval ${standingId} is revoked`);
  const api = (await s.t.call('GET', '/v1/standing-approvals?all=true')).body.items.find((x: any) => x.id === standingId);
  expect(api).toMatchObject({ active: false, revokedBy: 'bob@example.com' });
  const events = (await s.t.call('GET', `/v1/audit?requestId=${id}&limit=200`)).body.items as any[];
  expect(events.find((e) => e.type === 'standing_approval.revoked')).toMatchObject({ channel: 'slack', data: { by: 'bob@example.com' } });
  expect(text((await s.reply((await s.command('bob', 'standing')).responseUrl)).body.blocks)).not.toContain(standingId);
});
