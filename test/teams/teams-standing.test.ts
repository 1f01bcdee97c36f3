/**
 * Standing approvals in Teams, mirroring Slack: `standing` lists the active ones of rules the user approves (agent text
 * neutralised), `revoke <id>` ends one as that user (channel `teams`, audited), outsiders are refused.
 */
import { CHANNEL_ID, personalMessage, TEAMS_USERS } from '../fakes/teams-activities';
import { cardOf, cardText, startTeamsTestApp, type TeamsTestApp } from './teams-test-app';

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
    channels: ["teams:${CHANNEL_ID}"]
    reason: none
    standing: { maxFor: 15m, maxUses: 10 }
default: { outcome: deny }
`;

let h: TeamsTestApp;
beforeAll(async () => {
  h = await startTeamsTestApp({ policyYaml: POLICY });
});
afterAll(async () => {
  await h?.close();
});

let seq = 1763724100000;
/** Sends `text` from `who` in their personal chat and returns the text of the card the bot replied with. */
async function ask(who: keyof typeof TEAMS_USERS, text: string): Promise<string> {
  const msg = personalMessage(h.fake.url, TEAMS_USERS[who], text);
  const id = String(seq++);
  msg.id = id;
  expect((await h.send(msg)).status).toBe(200);
  const reply = await h.fake.waitForCall((c) => c.operation === 'reply' && c.activityId === id);
  return cardText(cardOf(reply.body));
}

it('lists the standing approvals a user approves and revokes one as that user', async () => {
  const submitted = await h.t.submit({ action: 'deploy.service', resource: 'svc://pay *now*', requester: { id: 'deploy-bot', type: 'agent' }, environment: 'production' });
  const voted = await h.t.call('POST', `/v1/requests/${submitted.body.id}/decisions`, { key: h.t.keys.approver, body: { approver: { email: 'alice@example.com' }, decision: 'approve', standing: { for: '15m', uses: 3 } } });
  expect(voted.status).toBe(201);
  const standingId = voted.body.standingApproval.id as string;

  const listed = await ask('bob', 'standing');
  for (const fact of ['Active standing approvals of rules you approve (1)', standingId, 'deploy.service', '3 of 3', 'revoke <id>']) expect(listed).toContain(fact);
  expect(listed).toContain('svc://pay \\*now\\*');

  expect(await ask('mallory', 'standing')).toContain('No active standing approvals');
  expect(await ask('mallory', `revoke ${standingId}`)).toContain('Only an approver of the rule');
  expect(await ask('bob', `revoke ${standingId}`)).toContain(`Standing approval ${standingId} is revoked`);
  const events = (await h.t.call('GET', `/v1/audit?requestId=${submitted.body.id}&limit=200`)).body.items as any[];
  expect(events.find((e) => e.type === 'standing_approval.revoked')).toMatchObject({ channel: 'teams', data: { by: 'bob@example.com' } });
  expect(await ask('bob', 'standing')).not.toContain(standingId);
});
