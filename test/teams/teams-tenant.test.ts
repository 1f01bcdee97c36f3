/**
 * One installation serves one Microsoft 365 tenant. Through botbuilder's real CloudAdapter: a click from another
 * tenant, by a user whose directory entry carries an approver's email, is refused before anyone is looked up and
 * recorded in the request's trail; the same approver in the served tenant still approves.
 */
import { randomUUID } from 'node:crypto';
import { baseRequest } from '../support/start-app';
import { cardAction, CHANNEL_ID, personalMessage, TEAMS_USERS, TENANT_ID, type TeamsTestUser } from '../fakes/teams-activities';
import { cardText, startTeamsTestApp, type TeamsTestApp } from './teams-test-app';

const FOREIGN_TENANT = '0f0f0f0f-0000-4000-8000-000000000000';

/** Someone in another tenant whose profile there says carol@example.com (an approver's email in the served tenant). */
const INTRUDER: TeamsTestUser = {
  ...TEAMS_USERS.carol,
  id: '29:1intruder-in-another-tenant',
  name: 'Carol Checker',
  aadObjectId: 'deadbeef-0000-4000-8000-0000000000c1',
  tenantId: FOREIGN_TENANT,
  personalConversationId: 'a:1intruder-personal',
};

let h: TeamsTestApp;
beforeAll(async () => {
  h = await startTeamsTestApp();
  // Were the adapter to look the intruder up, the connector would vouch for carol@example.com.
  h.fake.addMember(INTRUDER);
});
afterAll(async () => {
  await h?.close();
});

async function submitAndWaitForCard(action: string): Promise<string> {
  const res = await h.t.submit(baseRequest({ action }));
  expect(res.status).toBe(202);
  const id = res.body.id as string;
  await h.fake.waitForCall((c) => c.operation === 'send' && c.status === 201 && c.conversationId === CHANNEL_ID && JSON.stringify(c.body).includes(id));
  return id;
}

function fromTenant(activity: any, channelDataTenant: string, conversationTenant: string): any {
  activity.channelData.tenant = { id: channelDataTenant };
  activity.conversation.tenantId = conversationTenant;
  return activity;
}

describe('a Teams click from another tenant', () => {
  it('reproduction: a click from another tenant with email carol@example.com no longer approves; it is refused, recorded, and carol in the served tenant approves', async () => {
    const id = await submitAndWaitForCard('deploy.tenant-check');

    const res = await h.send(fromTenant(cardAction(h.fake.url, INTRUDER, { verb: 'approve', requestId: id }), FOREIGN_TENANT, FOREIGN_TENANT));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(cardText(res.body.value)).toBe('This Countersign installation serves another Microsoft 365 tenant. Nothing was recorded.');
    expect(h.fake.callsOf('getMember').filter((c) => c.userId === INTRUDER.id)).toHaveLength(0);
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(0);
    expect((await h.t.call('GET', `/v1/requests/${id}`)).body.status).toBe('pending');

    const refusals = (await h.t.call('GET', `/v1/audit?requestId=${id}&type=vote.refused`)).body.items;
    expect(refusals).toEqual([
      expect.objectContaining({
        channel: 'teams',
        actor: expect.objectContaining({ key: `teams:${INTRUDER.aadObjectId}`, label: 'Carol Checker' }),
        data: expect.objectContaining({ refusal: 'foreign_tenant', attempted: 'approve', tenant: FOREIGN_TENANT, expectedTenant: TENANT_ID }),
      }),
    ]);

    // Teams states the tenant twice; both must be the served one.
    const mixed = await h.send(fromTenant(cardAction(h.fake.url, INTRUDER, { verb: 'approve', requestId: id }), TENANT_ID, FOREIGN_TENANT));
    expect(cardText(mixed.body.value)).toContain('serves another Microsoft 365 tenant');
    const missing = cardAction(h.fake.url, INTRUDER, { verb: 'approve', requestId: id });
    delete missing.channelData.tenant;
    delete missing.conversation.tenantId;
    expect(cardText((await h.send(missing)).body.value)).toContain('serves another Microsoft 365 tenant');
    expect(await h.t.db.vote.count({ where: { requestId: id } })).toBe(0);

    // The legitimate path: carol in the served tenant.
    const carol = await h.send(cardAction(h.fake.url, TEAMS_USERS.carol, { verb: 'approve', requestId: id }));
    expect(cardText(carol.body.value)).toContain('Your approval was recorded; the request is now approved.');
    expect(await h.t.db.vote.findFirst({ where: { requestId: id } })).toMatchObject({ personKey: 'carol@example.com', channel: 'teams' });
  });

  it('refuses commands from another tenant without answering into it, and records them', async () => {
    const message = fromTenant(personalMessage(h.fake.url, INTRUDER, 'pending'), FOREIGN_TENANT, FOREIGN_TENANT);
    message.id = `1763723999${randomUUID().slice(0, 3)}`;
    expect((await h.send(message)).status).toBe(200);
    await h.t.waitFor(async () => (await h.t.db.auditEvent.count({ where: { type: 'chat.refused' } })) > 0, 5_000, 'chat.refused recorded');
    const event = await h.t.db.auditEvent.findFirst({ where: { type: 'chat.refused' } });
    expect(JSON.parse(event!.payload).data).toMatchObject({ refusal: 'foreign_tenant', attempted: 'message', tenant: FOREIGN_TENANT });
    expect(h.fake.calls.filter((c) => c.conversationId === INTRUDER.personalConversationId)).toHaveLength(0);
    expect(await h.t.db.teamsConversation.findUnique({ where: { conversationId: INTRUDER.personalConversationId } })).toBeNull();
  });
});

describe('posting into another tenant', () => {
  it('never posts a card into a stored conversation of another tenant', async () => {
    const conversationId = '19:0000anothertenantchannel0000@thread.tacv2';
    await h.t.db.teamsConversation.create({
      data: {
        conversationId,
        tenantId: FOREIGN_TENANT,
        reference: { channelId: 'msteams', serviceUrl: h.fake.url, bot: { id: '28:bot' }, conversation: { id: conversationId, tenantId: FOREIGN_TENANT } },
      },
    });
    const id = await submitAndWaitForCard('deploy.tenant-post');
    const view = await h.t.app.services.queries.view(id);
    await expect(h.t.app.channels.get('teams')!.postCard(conversationId, view)).rejects.toMatchObject({ code: 'foreign_tenant', retryable: false });
    expect(h.fake.calls.filter((c) => c.conversationId === conversationId)).toHaveLength(0);
  });
});
