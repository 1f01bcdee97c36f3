/**
 * Web console sessions through the real HTTP surface: one-time links made by the CLI (single use, short-lived, only a
 * hash stored, audited), the session cookie's attributes, /console/api/session, and CSRF (token and Origin) on
 * state-changing requests.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { runCli } from '../../src/cli/cli';
import { cliEnv, ConsoleBrowser, makeLink, startConsoleApp } from '../support/console-client';
import type { TestApp } from '../support/start-app';

let t: TestApp;
beforeAll(async () => {
  t = await startConsoleApp({ env: { CONSOLE_AUDITOR_GROUPS: 'security' } });
});
afterAll(async () => {
  await t?.close();
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function ownerQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: t.database.url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

it('signs in with a one-time link from the CLI, sets a hardened cookie, and stores only hashes', async () => {
  const link = await makeLink(t, 'carol@example.com');
  expect(link).toMatch(new RegExp(`^${t.config.PUBLIC_BASE_URL}/console/link/[A-Za-z0-9_-]{43}$`));
  const token = link.split('/').pop()!;

  const b = new ConsoleBrowser(t);
  const res = await b.open(link);
  expect(res.status).toBe(302);
  expect(res.headers.get('location')).toBe('/console/');
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('cs_session='))!;
  expect(setCookie).toMatch(/; Path=\/console; /);
  expect(setCookie).toContain('HttpOnly');
  expect(setCookie).toContain('SameSite=Strict');
  expect(setCookie).toContain('Secure');
  expect(setCookie).toContain(`Max-Age=${t.config.CONSOLE_SESSION_TTL}`);

  const session = await b.get('/console/api/session');
  expect(session.status).toBe(200);
  expect(session.headers.get('cache-control')).toBe('no-store');
  expect(session.body).toMatchObject({ person: { id: 'carol@example.com', name: 'carol@example.com' }, roles: ['approver'], signIn: 'link' });
  expect(typeof session.body.csrfToken).toBe('string');
  expect(Date.parse(session.body.authTime)).toBeGreaterThan(Date.now() - 60_000);

  // Only digests are stored: the cookie's and the link's secrets appear nowhere in the tables.
  const sessions = await ownerQuery<{ token_hash: string; person_id: string; sign_in: string }>('SELECT token_hash, person_id, sign_in FROM console_session');
  expect(sessions).toEqual([{ token_hash: sha256(b.cookie!), person_id: 'carol@example.com', sign_in: 'link' }]);
  const links = await ownerQuery<{ token_hash: string; used_at: Date | null }>('SELECT token_hash, used_at FROM console_sign_in_link');
  expect(links).toEqual([{ token_hash: sha256(token), used_at: expect.any(Date) }]);
  const dump = JSON.stringify(await ownerQuery('SELECT * FROM console_session')) + JSON.stringify(await ownerQuery('SELECT payload FROM audit_event'));
  expect(dump).not.toContain(b.cookie);
  expect(dump).not.toContain(token);

  const trail = (await t.call('GET', '/v1/audit?type=console.signed_in')).body.items;
  expect(trail).toHaveLength(1);
  expect(trail[0]).toMatchObject({ channel: 'web', actor: { key: 'carol@example.com' }, data: { person: 'carol@example.com', signIn: 'link', linkHash: sha256(token) } });
  expect((await t.call('GET', '/v1/audit?type=console.link_created')).body.items[0]).toMatchObject({ channel: 'cli', data: { person: 'carol@example.com', linkHash: sha256(token) } });

  // Single use: the same link again opens nothing.
  const again = await new ConsoleBrowser(t).open(link);
  expect(again.status).toBe(401);
  expect(again.body).toMatchObject({ code: 'link_invalid' });
  expect(again.headers.getSetCookie().some((c) => c.startsWith('cs_session=') && !c.startsWith('cs_session=;'))).toBe(false);
});

it('refuses an expired link and a link for nobody the directory knows', async () => {
  const link = await makeLink(t, 'bob@example.com');
  await ownerQuery(`UPDATE console_sign_in_link SET expires_at = now() - interval '1 second' WHERE person_id = 'bob@example.com'`);
  const res = await new ConsoleBrowser(t).open(link);
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('link_invalid');
  expect(await new ConsoleBrowser(t).open(`${t.baseUrl}/console/link/not-a-token`).then((r) => r.body.code)).toBe('link_invalid');

  const out: string[] = [];
  expect(await runCli(['console', 'link', '--person', 'nobody@example.com'], (s) => out.push(s), cliEnv(t))).toBe(1);
  expect(out.join('\n')).toMatch(/Nobody in the people directory is "nobody@example.com"/);
});

it('answers 401 not_signed_in without a live session', async () => {
  const b = new ConsoleBrowser(t);
  expect(await b.get('/console/api/session')).toMatchObject({ status: 401, body: { code: 'not_signed_in' } });
  b.cookie = 'A'.repeat(43);
  expect(await b.get('/console/api/session')).toMatchObject({ status: 401, body: { code: 'not_signed_in' } });
});

it('gives auditors their role', async () => {
  const b = await new ConsoleBrowser(t).signInWithLink('dave@example.com');
  expect((await b.get('/console/api/session')).body.roles).toEqual(['approver', 'auditor']);
});

it('needs the CSRF token and the service\'s Origin on state-changing requests, then signs out', async () => {
  const b = await new ConsoleBrowser(t).signInWithLink('alice@example.com');
  expect(await b.post('/console/logout', undefined, { 'x-csrf-token': '' })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
  expect(await b.post('/console/logout', undefined, { 'x-csrf-token': 'x'.repeat(43) })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
  expect(await b.post('/console/logout', undefined, { origin: 'https://evil.example' })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
  // Another session's token does not work for this one.
  const other = await new ConsoleBrowser(t).signInWithLink('alice@example.com');
  expect(await b.post('/console/logout', undefined, { 'x-csrf-token': other.csrf! })).toMatchObject({ status: 403, body: { code: 'csrf_failed' } });
  expect((await b.get('/console/api/session')).status).toBe(200);

  const out = await b.post('/console/logout');
  expect(out.status).toBe(204);
  expect(out.headers.getSetCookie().find((c) => c.startsWith('cs_session='))).toMatch(/^cs_session=; .*Max-Age=0/);
  const stale = new ConsoleBrowser(t);
  stale.cookie = other.cookie; // the other session lives on
  expect((await stale.get('/console/api/session')).status).toBe(200);
  const trail = (await t.call('GET', '/v1/audit?type=console.signed_out')).body.items;
  expect(trail.map((e: any) => e.data.why)).toEqual(['sign-out']);
});

it('signs out the revoked session for good', async () => {
  const b = await new ConsoleBrowser(t).signInWithLink('bob@example.com');
  const cookie = b.cookie;
  expect((await b.post('/console/logout')).status).toBe(204);
  const replay = new ConsoleBrowser(t);
  replay.cookie = cookie;
  expect(await replay.get('/console/api/session')).toMatchObject({ status: 401, body: { code: 'not_signed_in' } });
});

it('has no IdP sign-in when no IdP is configured', async () => {
  expect((await new ConsoleBrowser(t).get('/console/api/sign-in')).body).toEqual({ idp: false, loginUrl: null });
  expect(await new ConsoleBrowser(t).get('/console/login?next=/console/')).toMatchObject({ status: 404, body: { code: 'oidc_not_configured' } });
});

it('throttles an address that keeps failing to sign in, like failed API keys', async () => {
  const { startTestApp } = await import('../support/start-app');
  const strict = await startTestApp({ env: { AUTH_FAILURES_PER_MINUTE: '3' } });
  try {
    const b = new ConsoleBrowser(strict);
    for (let i = 0; i < 3; i++) expect((await b.open(`${strict.baseUrl}/console/link/${'x'.repeat(43)}`)).body.code).toBe('link_invalid');
    const link = await makeLink(strict, 'carol@example.com');
    const refused = await b.open(link.replace(strict.config.PUBLIC_BASE_URL ?? `http://localhost:${strict.config.PORT}`, strict.baseUrl));
    expect(refused).toMatchObject({ status: 429, body: { code: 'too_many_auth_failures' } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(b.cookie).toBeUndefined();
  } finally {
    await strict.close();
  }
});
