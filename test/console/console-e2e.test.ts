/**
 * The web console end to end, in Debian's Chromium driven by playwright-core, against the real service (with Slack
 * pointed at the fake Slack API) and a real OpenID Connect provider: sign in at the IdP, watch a request arrive in the
 * inbox live, be refused a self-approval, approve as another person and see the Slack card follow, open the lineage of
 * a three-step agent run, and export and verify the audit trail. With CS_SCREENSHOTS=1 it also writes the README's
 * screenshots (docs/screenshots/*.png).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildConsole } from '../../console/build';
import { runCli } from '../../src/cli/cli';
import { cliEnv, freePort } from '../support/console-client';
import { baseRequest } from '../support/start-app';
import { IDP_CLIENT, startIdp, type TestIdp } from '../support/oidc-idp';
import { DATA_CHANNEL, startSlackTestApp, type SlackTestApp } from '../slack/slack-test-app';

const POLICY = `
version: 1
people:
  - id: alice
    name: Alice Example
    identities: [alice@example.com, "slack:U0000ALICE"]
  - id: frank
    name: Frank Requester
    identities: [frank@example.com, "slack:U0000FRANK"]
groups:
  approvers: [alice@example.com, bob@example.com, frank@example.com]
  auditors: [alice@example.com]
rules:
  - name: routine-reads
    match: { action: "*.read" }
    outcome: approve
  - name: no-deletes
    match: { action: "*.delete" }
    outcome: deny
    message: Deletes are never allowed for agents.
  - name: single-approval
    match: { action: "deploy.*" }
    outcome: require
    approvers: [approvers]
    approvals: 1
    channels: ["slack:${DATA_CHANNEL}"]
    reason: on-deny
default:
  outcome: require
  approvers: [approvers]
  approvals: 1
  reason: none
`;

const STEP_UP_SECONDS = 5;
const SCREENSHOTS = process.env.CS_SCREENSHOTS === '1' ? path.join(__dirname, '..', '..', 'docs', 'screenshots') : null;

let s: SlackTestApp;
let idp: TestIdp;
const contexts: { ctx: BrowserContext; dir: string }[] = [];
/** Requests the pages sent anywhere but the service (the console must load nothing from elsewhere). */
const foreign: string[] = [];
let base: string;
/** Uncaught errors in the pages. */
const pageErrors: string[] = [];

beforeAll(async () => {
  await buildConsole();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  idp = await startIdp({
    redirectUri: `${base}/console/callback`,
    accounts: {
      alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Example' },
      frank: { email: 'frank@example.com', email_verified: true, name: 'Frank Requester' },
    },
  });
  s = await startSlackTestApp({
    policyYaml: POLICY,
    env: {
      PORT: String(port),
      PUBLIC_BASE_URL: base,
      CONSOLE_COOKIE_SECURE: 'false',
      CONSOLE_AUDITOR_GROUPS: 'auditors',
      // Short, so the step-up of a critical request can be seen without a long wait.
      CONSOLE_STEP_UP_MAX_AGE_SECONDS: String(STEP_UP_SECONDS),
      OIDC_ISSUER: idp.issuer,
      OIDC_CLIENT_ID: IDP_CLIENT.client_id,
      OIDC_CLIENT_SECRET: IDP_CLIENT.client_secret,
    },
  });
  if (SCREENSHOTS) mkdirSync(SCREENSHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  for (const c of contexts) {
    await c.ctx.close().catch(() => undefined);
    rmSync(c.dir, { recursive: true, force: true });
  }
  await s?.close();
  await idp?.close();
});

/** A fresh Chromium profile: one person's browser. */
async function openBrowser(): Promise<Page> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  contexts.push({ ctx, dir });
  // Nothing leaves this machine: the IdP's development page asks for a web font, which is refused here.
  await ctx.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.protocol === 'data:') return route.continue();
    foreign.push(`${route.request().frame()?.url() ?? '?'} -> ${url.href}`);
    return route.abort();
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  // Fail with the locator that was awaited, well before the test's own timeout.
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => pageErrors.push(err.message));
  // The console runs under its strict CSP: a blocked script, style or connection would show up here.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text()) && page.url().startsWith(`${base}/console`)) pageErrors.push(m.text());
  });
  return page;
}

/**
 * Signs in through the console's sign-in page and the IdP (whose login form the test IdP fills in as `account`);
 * lands on the console again, on the page the sign-in started from.
 */
async function signIn(page: Page, account: string, start = '/console/'): Promise<void> {
  await idp.nextLogin(account);
  await page.goto(base + start);
  const idpVisits: string[] = [];
  const onRequest = (r: { url(): string }) => {
    if (r.url().startsWith(idp.issuer)) idpVisits.push(r.url());
  };
  page.on('request', onRequest);
  await page.getByRole('link', { name: 'Sign in with your identity provider' }).click();
  await page.waitForURL((u) => u.href === base + start && !u.pathname.startsWith('/console/callback'));
  await page.getByTestId('signed-in-as').waitFor();
  page.off('request', onRequest);
  // The browser itself went to the IdP's authorization endpoint (PKCE) and came back.
  expect(idpVisits.some((u) => /code_challenge=/.test(u))).toBe(true);
}

async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const trace = `run-${randomBytes(4).toString('hex')}`;
let deployId: string;

jest.setTimeout(90_000);

describe('web console in Chromium', () => {
  let alice: Page;

  it('signs in at the identity provider and shows a request in the inbox the moment it is submitted', async () => {
    alice = await openBrowser();
    await signIn(alice, 'alice');
    await expect(alice.getByTestId('signed-in-as').textContent()).resolves.toBe('Alice Example');
    await alice.getByTestId('live-state').filter({ hasText: 'live' }).waitFor();
    await alice.getByText('Nothing is waiting for you.').waitFor();

    // Submitted through the API after the inbox is open: it appears without a reload.
    deployId = await s.submit(
      baseRequest({
        action: 'deploy.release',
        resource: 'k8s://prod/payments',
        traceId: trace,
        // Medium: decided without a step-up (the step-up has its own test below).
        risk: 'medium',
        justification: 'Roll out the fix for INC-1234 <img src=x onerror="document.title=\'pwned\'">',
      }),
    );
    const card = alice.locator(`[data-request-id="${deployId}"]`);
    await card.waitFor();
    // Agent text is text: the markup shows as written and runs nothing.
    await expect(card.getByText('<img src=x onerror="document.title=\'pwned\'">', { exact: false }).count()).resolves.toBe(1);
    await expect(card.locator('img').count()).resolves.toBe(0);
    await expect(alice.title()).resolves.toBe('Countersign console');
    // Claims are marked as the agent's.
    await expect(card.getByText('asserted by the agent').count()).resolves.toBeGreaterThan(3);
    await expect(card.textContent()).resolves.toContain('Frank');
    await expect(card.textContent()).resolves.toContain('gpt-5-mini');
    await expect(card.textContent()).resolves.toContain('0 of 1');

    // A second one, newest first; cancelled by the agent, it leaves the open inbox on its own.
    const other = await s.submit(
      baseRequest({ action: 'db.migrate', resource: 'postgres://prod/billing', risk: 'low', onBehalfOf: { email: 'bob@example.com', name: 'Bob' }, justification: 'Schema change for FEAT-88' }),
    );
    await alice.locator(`[data-request-id="${other}"]`).waitFor();
    await expect(alice.locator('ul.inbox > li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-request-id')))).resolves.toEqual([other, deployId]);
    await shot(alice, 'inbox');
    // Filters are applied by the server (and to what the stream pushes).
    await alice.locator('select[name=risk]').selectOption('low');
    await alice.getByRole('button', { name: 'Filter' }).click();
    await alice.locator(`[data-request-id="${deployId}"]`).waitFor({ state: 'detached' });
    await expect(alice.locator('ul.inbox > li').count()).resolves.toBe(1);
    await alice.getByRole('button', { name: 'Clear' }).click();
    await alice.locator(`[data-request-id="${deployId}"]`).waitFor();

    expect((await s.t.call('POST', `/v1/requests/${other}/cancel`, { key: s.t.keys.agent, body: {} })).status).toBe(200);
    await alice.locator(`[data-request-id="${other}"]`).waitFor({ state: 'detached' });
    await expect(alice.locator('ul.inbox > li').count()).resolves.toBe(1);
  });

  it('refuses a self-approval in the page: Frank cannot approve what is asked on his behalf', async () => {
    const frank = await openBrowser();
    await signIn(frank, 'frank', `/console/requests/${deployId}`);
    await frank.getByRole('button', { name: 'Approve' }).click();
    await frank.getByRole('alert').filter({ hasText: 'You cannot approve your own request' }).waitFor();
    expect((await s.request(deployId)).status).toBe('pending');
    const refused = (await s.audit(deployId)).find((e) => e.type === 'vote.refused');
    expect(refused).toMatchObject({ data: expect.objectContaining({ refusal: 'self_approval' }) });
  });

  it('approves as Alice: the page shows the decision and the Slack card loses its buttons', async () => {
    await alice.locator(`[data-request-id="${deployId}"] a.title`).click();
    await alice.waitForURL(`${base}/console/requests/${deployId}`);
    await alice.getByRole('button', { name: 'Approve' }).click();
    await alice.getByRole('status').filter({ hasText: 'Your approval was recorded' }).waitFor();
    await alice.getByTestId('decision').filter({ hasText: 'approved' }).waitFor();
    const after = await s.request(deployId);
    expect(after).toMatchObject({ status: 'approved', votes: [expect.objectContaining({ decision: 'approve', approver: expect.objectContaining({ email: 'alice@example.com' }) })] });

    const card = await s.card(deployId);
    await s.t.waitFor(async () => !(card.blocks ?? []).some((b: any) => b.type === 'actions'), 10_000, 'card without buttons');
    expect(JSON.stringify(card.blocks)).toContain('Approved');
    expect(JSON.stringify(card.blocks)).toContain('Alice Example');
    // The page lists the card's delivery.
    await alice.reload();
    await alice.getByTestId('deliveries').getByText(`slack:${DATA_CHANNEL}`, { exact: false }).first().waitFor();
    // And the request has left Alice's inbox.
    await alice.goto(`${base}/console/`);
    await alice.getByText('Nothing is waiting for you.').waitFor();
  });

  it('sends a decision on a critical request through a fresh sign-in at the IdP (step-up), then records it', async () => {
    const critical = await s.submit(baseRequest({ action: 'iam.grant', resource: 'iam://prod/role/admin', risk: 'critical', onBehalfOf: { email: 'bob@example.com' } }));
    await alice.goto(`${base}/console/requests/${critical}`);
    await alice.getByRole('button', { name: 'Approve' }).waitFor();
    // Let the sign-in grow older than the step-up window.
    const session = await alice.evaluate(async () => (await fetch('/console/api/session')).json() as Promise<{ authTime: string }>);
    await alice.waitForTimeout(Math.max(0, Date.parse(session.authTime) + (STEP_UP_SECONDS + 1) * 1000 - Date.now()));

    await idp.nextLogin('alice');
    const toIdp = alice.waitForRequest((r) => r.url().startsWith(idp.issuer) && /prompt=login/.test(r.url()) && /max_age=/.test(r.url()));
    const back = alice.waitForRequest((r) => r.url().startsWith(`${base}/console/callback`));
    await alice.getByRole('button', { name: 'Approve' }).click();
    await toIdp;
    await back;
    await alice.waitForURL(`${base}/console/requests/${critical}`);
    await alice.getByRole('button', { name: 'Approve' }).waitFor();
    const fresh = await alice.evaluate(async () => (await fetch('/console/api/session')).json() as Promise<{ authTime: string }>);
    expect(Date.parse(fresh.authTime)).toBeGreaterThan(Date.parse(session.authTime));
    expect((await s.request(critical)).status).toBe('pending');

    // Back on the request, signed in moments ago: the approval goes through (a very slow machine may need another round).
    for (let attempt = 0; attempt < 3; attempt++) {
      await alice.getByRole('button', { name: 'Approve' }).click();
      const outcome = await Promise.race([
        alice.getByRole('status').filter({ hasText: 'Your approval was recorded' }).waitFor().then(() => 'recorded' as const),
        alice.waitForRequest((r) => r.url().startsWith(`${base}/console/callback`)).then(() => 'step-up' as const),
      ]);
      if (outcome === 'recorded') break;
      await alice.waitForURL(`${base}/console/requests/${critical}`);
      await alice.getByRole('button', { name: 'Approve' }).waitFor();
    }
    expect((await s.request(critical)).status).toBe('approved');
  });

  it('keeps an open request page current when someone decides it elsewhere (the API here)', async () => {
    const canary = await s.submit(baseRequest({ action: 'deploy.canary', resource: 'k8s://prod/search', risk: 'low', onBehalfOf: { email: 'bob@example.com' } }));
    await alice.goto(`${base}/console/requests/${canary}`);
    await alice.getByRole('button', { name: 'Approve' }).waitFor();
    // Frank votes through an approval portal (attest key) while Alice's page is open.
    const vote = await s.t.call('POST', `/v1/requests/${canary}/decisions`, { key: s.t.keys.approver, body: { approver: { email: 'frank@example.com' }, decision: 'approve' } });
    expect(vote.status).toBe(201);
    await alice.getByTestId('decision').filter({ hasText: 'approved' }).waitFor();
    await expect(alice.getByRole('button', { name: 'Approve' }).count()).resolves.toBe(0);
    await expect(alice.locator('table').first().textContent()).resolves.toContain('frank@example.com');
  });

  it('marks as the agent\'s claim only what the submitting key did not pin', async () => {
    const printed: string[] = [];
    const code = await runCli(
      ['keys', 'create', '--name', 'pinned-bot', '--scopes', 'submit+read', '--owner', 'ops-lead@example.com', '--pin-requester', 'deploy-bot:service', '--pin-environment', 'production'],
      (line) => printed.push(line),
      cliEnv(s.t),
    );
    expect(code).toBe(0);
    const key = printed[printed.length - 1].trim();
    const body = baseRequest({ action: 'deploy.pinned', resource: 'k8s://prod/cart', risk: 'low', onBehalfOf: { email: 'bob@example.com' } });
    delete (body.requester as Record<string, unknown>).id;
    delete (body.requester as Record<string, unknown>).type;
    delete (body.requester as Record<string, unknown>).email;
    delete body.environment;
    const res = await s.t.submit(body, { key });
    expect(res.status).toBe(202);
    await alice.goto(`${base}/console/requests/${res.body.id}`);
    const row = (label: string) => alice.locator('dl.facts.wide > div').filter({ has: alice.locator('dt', { hasText: new RegExp(`^${label}$`) }) });
    await row('Who asks').waitFor();
    await expect(row('Who asks').textContent()).resolves.toBe('Who asksdeploy-bot (service)');
    await expect(row('Environment').textContent()).resolves.toBe('Environmentproduction');
    await expect(row('Model').textContent()).resolves.toContain('asserted by the agent');
    await expect(row('Justification').textContent()).resolves.toContain('asserted by the agent');
    expect((await s.t.call('POST', `/v1/requests/${res.body.id}/cancel`, { key, body: {} })).status).toBe(200);
  });

  it('asks for the reason the rule wants before a denial, then records the denial with it', async () => {
    const hotfix = await s.submit(baseRequest({ action: 'deploy.hotfix', resource: 'k8s://prod/search', risk: 'low', onBehalfOf: { email: 'bob@example.com' } }));
    await alice.goto(`${base}/console/requests/${hotfix}`);
    await alice.getByText('Reason (required to deny)').waitFor();
    await alice.getByRole('button', { name: 'Deny' }).click();
    await alice.getByRole('alert').filter({ hasText: 'This rule asks for a reason to deny' }).waitFor();
    expect((await s.request(hotfix)).status).toBe('pending');

    await alice.locator('textarea[name=reason]').fill('Freeze until the incident review <b>ends</b>');
    await alice.getByRole('button', { name: 'Deny' }).click();
    await alice.getByRole('status').filter({ hasText: 'Your denial was recorded' }).waitFor();
    await expect(alice.getByTestId('decision').textContent()).resolves.toContain('Freeze until the incident review <b>ends</b>');
    expect(await s.request(hotfix)).toMatchObject({ status: 'denied', votes: [expect.objectContaining({ decision: 'deny', reason: 'Freeze until the incident review <b>ends</b>' })] });
  });

  it('shows the lineage of a three-step agent run', async () => {
    // Step 1 (approved above) runs with its grant and reports; step 2 is a routine read; step 3 is a forbidden delete.
    const detail = await s.request(deployId);
    expect((await s.t.call('POST', '/v1/grants/use', { key: s.t.keys.agent, body: { grant: detail.grant } })).status).toBe(201);
    expect((await s.t.call('POST', `/v1/requests/${deployId}/outcome`, { key: s.t.keys.agent, body: { status: 'succeeded', detail: 'released v2.3.1' } })).status).toBe(201);
    const read = await s.t.submit(baseRequest({ action: 'config.read', resource: 'k8s://prod/payments/config', environment: 'production', traceId: trace, parentRequestId: deployId }));
    expect(read.body.status).toBe('approved');
    const del = await s.t.submit(baseRequest({ action: 'cache.delete', resource: 'redis://prod/payments', traceId: trace, parentRequestId: read.body.id }));
    expect(del.body.status).toBe('denied');

    await alice.goto(`${base}/console/requests/${deployId}`);
    await alice.getByRole('link', { name: 'Show lineage' }).click();
    const tree = alice.getByTestId('lineage-tree');
    await tree.locator('li[data-request-id]').nth(2).waitFor();
    const rows = tree.locator(':scope > li');
    await expect(rows.evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-request-id'), li.className]))).resolves.toEqual([
      [deployId, 'depth-0'],
      [read.body.id, 'depth-1'],
      [del.body.id, 'depth-2'],
    ]);
    const first = await rows.nth(0).textContent();
    expect(first).toContain('Approved by Alice Example');
    expect(first).toContain('Grant used');
    expect(first).toContain('succeeded');
    await expect(rows.nth(2).textContent()).resolves.toContain('denied');
    await expect(alice.getByTestId('lineage-timeline').locator('g.row').count()).resolves.toBe(3);
    await shot(alice, 'lineage');
    await alice.goto(`${base}/console/requests/${deployId}`);
    await alice.getByText('Audit events').waitFor();
    const grant = await alice.getByTestId('grant').textContent();
    expect(grant).toContain('A signed approval grant was issued');
    expect(grant).toMatch(/Used .* with key agent/);
    await shot(alice, 'request');
  });

  it('shows the policy in order and says what would happen to a sample request', async () => {
    await alice.getByRole('link', { name: 'Policy' }).click();
    const rules = alice.getByTestId('rules').locator(':scope > li');
    await rules.first().waitFor();
    await expect(rules.evaluateAll((lis) => lis.map((li) => li.querySelector('strong')?.textContent))).resolves.toEqual(['routine-reads', 'no-deletes', 'single-approval', 'default']);
    const form = alice.getByTestId('evaluate-form');
    await form.locator('input[name=action]').fill('deploy.release');
    await form.locator('input[name=resource]').fill('k8s://prod/payments');
    await form.locator('input[name=onBehalfOf]').fill('frank@example.com');
    await form.getByRole('button', { name: 'Evaluate' }).click();
    const answer = await alice.getByTestId('evaluate-answer').textContent();
    expect(answer).toContain('single-approval');
    expect(answer).toContain('It would wait for 1 approval(s) from approvers.');
    expect(answer).toMatch(/Could not approve it \(their own request\): Frank Requester/);
    await shot(alice, 'policy');
    // Nothing was submitted.
    expect((await s.t.call('GET', '/v1/requests?limit=200')).body.items.filter((r: { action: string }) => r.action === 'deploy.release')).toHaveLength(1);
  });

  it('exports the audit trail as NDJSON and verifies it', async () => {
    await alice.getByRole('link', { name: 'Audit' }).click();
    await alice.locator('input[name=requestId]').fill(deployId);
    await alice.getByRole('button', { name: 'Filter' }).click();
    await alice.getByTestId('audit-events').getByText('vote.cast', { exact: false }).first().waitFor();

    const [download] = await Promise.all([alice.waitForEvent('download'), alice.getByTestId('export-ndjson').click()]);
    const lines = readFileSync((await download.path())!, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.every((e) => e.requestId === deployId)).toBe(true);
    expect(lines.map((e) => e.type)).toEqual(expect.arrayContaining(['request.submitted', 'vote.refused', 'vote.cast', 'request.decided']));

    await alice.getByRole('button', { name: 'Verify' }).click();
    const result = alice.getByTestId('verify-result');
    await result.waitFor();
    await expect(result.textContent()).resolves.toMatch(/✓ Verified — The audit trail is intact: all \d+ recorded events match/);
    await shot(alice, 'audit');

    // The evidence pack downloaded from the page holds up offline, against the keys the service publishes.
    const [pack] = await Promise.all([alice.waitForEvent('download'), alice.getByTestId('evidence-pack').click()]);
    const packFile = (await pack.path())!;
    expect(readFileSync(packFile).subarray(0, 2).toString()).toBe('PK');
    const jwksFile = path.join(mkdtempSync(path.join(tmpdir(), 'cs-jwks-')), 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify((await s.t.call('GET', '/.well-known/jwks.json', { key: '' })).body));
    const said: string[] = [];
    expect(await runCli(['verify', 'pack', packFile, '--jwks', jwksFile], (line) => said.push(line))).toBe(0);
    expect(said[0]).toBe('OK: the evidence pack is intact and every record in it is proven.');
    rmSync(path.dirname(jwksFile), { recursive: true, force: true });
  });

  it('pages a long inbox with "Load more" (keyset pages of 25)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 27; i++) ids.push(await s.submit(baseRequest({ action: 'report.generate', resource: `reports://q3/${i}`, risk: 'low', onBehalfOf: { email: 'bob@example.com' } })));
    await alice.goto(`${base}/console/`);
    const items = alice.locator('ul.inbox > li');
    await items.nth(24).waitFor();
    await expect(items.count()).resolves.toBe(25);
    await alice.getByRole('button', { name: 'Load more' }).click();
    await items.nth(26).waitFor();
    await expect(items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-request-id')))).resolves.toEqual([...ids].reverse());
    await expect(alice.getByRole('button', { name: 'Load more' }).count()).resolves.toBe(0);
  });

  it('lists what Alice decided, newest first, with her vote and the outcome', async () => {
    await alice.getByRole('link', { name: 'My decisions' }).click();
    const rows = alice.getByTestId('history').locator('tbody > tr');
    await rows.first().waitFor();
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-request-id')));
    // Newest first: the hotfix denial came after the deploy approval. Frank's vote on the canary is not hers.
    expect(ids).toContain(deployId);
    const deployRow = await rows.filter({ has: alice.locator(`a[href="/console/requests/${deployId}"]`) }).textContent();
    expect(deployRow).toMatch(/approve\s*via web/);
    expect(deployRow).toContain('approved');
    const denied = await rows.filter({ hasText: 'deploy.hotfix' }).textContent();
    expect(denied).toContain('Freeze until the incident review <b>ends</b>');
    const hotfixIndex = await rows.evaluateAll((trs) => trs.findIndex((tr) => tr.textContent?.includes('deploy.hotfix')));
    expect(hotfixIndex).toBeGreaterThanOrEqual(0);
    expect(hotfixIndex).toBeLessThan(ids.indexOf(deployId));
    await expect(rows.filter({ hasText: 'deploy.canary' }).count()).resolves.toBe(0);
  });

  it('signs out: the session ends and the sign-in page is back', async () => {
    await alice.getByRole('button', { name: 'Sign out' }).click();
    await alice.getByRole('link', { name: 'Sign in with your identity provider' }).waitFor();
    const status = await alice.evaluate(async () => (await fetch('/console/api/session')).status);
    expect(status).toBe(401);
  });

  it('loaded nothing from outside the service on its own pages, and threw nothing', () => {
    expect(foreign.filter((f) => f.startsWith(`${base}/console`))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
