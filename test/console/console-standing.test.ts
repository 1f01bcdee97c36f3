/**
 * Standing approvals in the web console through the real HTTP surface: approvers of the rule see the active ones and
 * may revoke them (channel `web`, audited, refusals as the API's), auditors see every one, outsiders none; revocation
 * needs the CSRF token and the service's Origin like every state-changing console request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ConsoleBrowser, makeLink, startConsoleApp } from '../support/console-client';
import type { TestApp } from '../support/start-app';

const POLICY = `
version: 1
people:
  - { id: mallory, name: Mallory Outsider, identities: [mallory@example.com] }
groups:
  approvers: [alice@example.com, bob@example.com]
  others: [erin@example.com]
  security: [dave@example.com]
rules:
  - name: deploys
    match: { action: "deploy.*" }
    outcome: require
    approvers: [approvers]
    reason: none
    standing: { maxFor: 15m, maxUses: 10 }
  - name: restarts
    match: { action: "service.restart" }
    outcome: require
    approvers: [others]
    reason: none
    standing: { maxFor: 15m, maxUses: 10 }
default: { outcome: deny }
`;

let t: TestApp;
let alice: ConsoleBrowser;
let bob: ConsoleBrowser;
let dave: ConsoleBrowser;
let erin: ConsoleBrowser;
beforeAll(async () => {
  t = await startConsoleApp({ policyYaml: POLICY, env: { CONSOLE_AUDITOR_GROUPS: 'security' } });
  [alice, bob, dave, erin] = await Promise.all(['alice@example.com', 'bob@example.com', 'dave@example.com', 'erin@example.com'].map((p) => new ConsoleBrowser(t).signInWithLink(p)));
});
afterAll(async () => {
  await t?.close();
});

async function grant(action: string, resource: string, email: string, uses: number): Promise<string> {
  const first = await t.submit({ action, resource, requester: { id: 'deploy-bot', type: 'agent' }, environment: 'production' });
  expect(first.body.status).toBe('pending');
  const res = await t.call('POST', `/v1/requests/${first.body.id}/decisions`, { key: t.keys.approver, body: { approver: { email }, decision: 'approve', standing: { for: '15m', uses } } });
  expect(res.status).toBe(201);
  return res.body.standingApproval.id as string;
}
const ids = async (b: ConsoleBrowser) => {
  const res = await b.get('/console/api/standing-approvals');
  expect(res.status).toBe(200);
  return res.body.items.map((s: any) => s.id) as string[];
};

describe('standing approvals in the console', () => {
  let deployId: string;
  let restartId: string;
  beforeAll(async () => {
    deployId = await grant('deploy.service', 'svc://payments', 'alice@example.com', 3);
    restartId = await grant('service.restart', 'svc://billing', 'erin@example.com', 2);
  });

  it('shows approvers the active standing approvals of their rules, auditors all, outsiders none', async () => {
    const listed = (await bob.get('/console/api/standing-approvals')).body.items;
    expect(listed).toEqual([expect.objectContaining({
      id: deployId, rule: 'deploys', action: 'deploy.service', resource: 'svc://payments', environment: 'production',
      requester: { id: 'deploy-bot', type: 'agent' }, grantedBy: expect.objectContaining({ person: 'alice@example.com' }),
      usesLeft: 3, maxUses: 3, expiresAt: expect.any(String), active: true, mayRevoke: true,
    })]);
    expect(await ids(erin)).toEqual([restartId]);
    const audited = (await dave.get('/console/api/standing-approvals')).body.items;
    expect(audited.map((s: any) => s.id).sort()).toEqual([deployId, restartId].sort());
    expect(audited.every((s: any) => s.mayRevoke === false)).toBe(true);
    const mallory = await new ConsoleBrowser(t).signInWithLink('mallory');
    expect(await ids(mallory)).toEqual([]);
    expect((await new ConsoleBrowser(t).get('/console/api/standing-approvals')).status).toBe(401);
  });

  it('needs the CSRF token and Origin to revoke, refuses non-approvers as the API does, and revokes as the web channel', async () => {
    expect(await bob.post(`/console/api/standing-approvals/${deployId}/revoke`, {}, { 'x-csrf-token': 'forged' })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
    expect(await bob.post(`/console/api/standing-approvals/${deployId}/revoke`, {}, { origin: 'https://evil.example' })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
    const api = await t.call('POST', `/v1/standing-approvals/${restartId}/revoke`, { key: t.keys.approver, body: { approver: { email: 'bob@example.com' } } });
    expect(api.body.error?.code).toBeDefined();
    const refused = await bob.post(`/console/api/standing-approvals/${restartId}/revoke`, {});
    expect(refused).toMatchObject({ status: api.status, body: { code: api.body.error.code } });
    expect(refused.body.code).toBe('not_revocable');
    expect(await dave.post(`/console/api/standing-approvals/${deployId}/revoke`, {})).toMatchObject({ status: refused.status, body: { code: 'not_revocable' } });
    expect(await bob.post('/console/api/standing-approvals/00000000-0000-4000-8000-000000000000/revoke', {})).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(await bob.post('/console/api/standing-approvals/not-a-uuid/revoke', {})).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(await ids(bob)).toEqual([deployId]);

    // Bob did not grant it: any approver of the rule may end it.
    const revoked = await bob.post(`/console/api/standing-approvals/${deployId}/revoke`, { reason: 'Freeze' });
    expect(revoked).toMatchObject({ status: 200, body: { id: deployId, active: false, revokedBy: 'bob@example.com' } });
    expect(await bob.post(`/console/api/standing-approvals/${deployId}/revoke`, {})).toMatchObject({ status: 409, body: { code: 'already_revoked' } });
    expect(await ids(bob)).toEqual([]);
    expect(await ids(alice)).toEqual([]);

    const events = (await t.call('GET', `/v1/audit?limit=200`)).body.items as any[];
    expect(events.find((e) => e.type === 'standing_approval.revoked' && e.data.standingApprovalId === deployId)).toMatchObject({ channel: 'web', data: { by: 'bob@example.com', reason: 'Freeze' } });
    // The next matching request is asked again.
    expect((await t.submit({ action: 'deploy.service', resource: 'svc://payments', requester: { id: 'deploy-bot', type: 'agent' }, environment: 'production' })).body.status).toBe('pending');
  });

  it('shows the page in Chromium, agent markup as text, and revokes with the button', async () => {
    const id = await grant('deploy.service', 'svc://ui <b>bold</b>', 'bob@example.com', 2);
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-chromium-'));
    const ctx = await chromium.launchPersistentContext(dir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('dialog', (d) => void d.accept());
      await page.goto(await makeLink(t, 'alice@example.com'));
      await page.getByRole('link', { name: 'Standing approvals' }).click();
      const row = page.locator(`tr[data-standing-id="${id}"]`);
      await row.waitFor({ timeout: 15_000 });
      const rowText = await row.textContent();
      for (const fact of ['deploys', 'deploy.service', 'svc://ui <b>bold</b>', 'production', 'deploy-bot', 'bob@example.com', '2 / 2']) expect(rowText).toContain(fact);
      expect(await page.locator('b', { hasText: 'bold' }).count()).toBe(0);
      await row.getByRole('button', { name: 'Revoke' }).click();
      await page.getByText('No active standing approvals.').waitFor({ timeout: 15_000 });
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const api = (await t.call('GET', '/v1/standing-approvals?all=true')).body.items.find((x: any) => x.id === id);
    expect(api).toMatchObject({ active: false, revokedBy: 'alice@example.com' });
  }, 60_000);
});
