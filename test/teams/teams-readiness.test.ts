/**
 * Teams readiness: a Teams channel whose credentials the platform rejects (a 401 from the Bot Connector, no Bot
 * Framework token) delivers nothing, so /readyz fails and names it, until a call succeeds again.
 */
import { baseRequest } from '../support/start-app';
import { CHANNEL_ID } from '../fakes/teams-activities';
import { startTeamsTestApp, type TeamsTestApp } from './teams-test-app';

let s: TeamsTestApp;
beforeAll(async () => {
  s = await startTeamsTestApp();
});
afterAll(async () => {
  await s?.close();
});

it('is not ready while the connector rejects the bot, and ready again once a card goes through', async () => {
  expect((await s.t.call('GET', '/readyz', { key: '' })).body).toMatchObject({ status: 'ready', checks: { teams: 'ok' } });

  s.fake.failNext('send', { status: 401, body: { message: 'Authorization has been denied for this request.' }, bodyIncludes: 'deploy.rejected' }, 10);
  const refused = await s.t.submit(baseRequest({ action: 'deploy.rejected' }));
  await s.t.waitFor(async () => (await s.t.call('GET', `/v1/requests/${refused.body.id}`)).body.deliveries.some((d: any) => d.status === 'failed'), 10_000, 'failed card');
  const down = await s.t.call('GET', '/readyz', { key: '' });
  expect(down.status).toBe(503);
  expect(down.body.checks.teams).toMatch(/^unavailable: credentials rejected by the platform \(Teams connector answered 401 to /);

  const accepted = await s.t.submit(baseRequest({ action: 'deploy.accepted' }));
  await s.t.waitFor(async () => s.fake.activitiesIn(CHANNEL_ID).some((a) => JSON.stringify(a.current).includes('deploy.accepted')), 10_000, 'card posted');
  await s.t.waitFor(async () => (await s.t.call('GET', '/readyz', { key: '' })).status === 200, 5_000, 'ready again');
  expect(accepted.status).toBe(202);
});
