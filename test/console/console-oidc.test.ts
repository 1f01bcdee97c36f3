/**
 * Signing in to the web console through a real OpenID Connect provider (oidc-provider in a child process): the
 * authorization code flow with PKCE, state and nonce, mapping to a directory person by verified email (recorded as a
 * link) or by subject, refusals, and step-up (prompt=login, max_age, auth_time) before a high-risk decision.
 */
import pg from 'pg';
import { ConsoleBrowser, freePort } from '../support/console-client';
import { IDP_CLIENT, signInThroughIdp, startIdp, type TestIdp } from '../support/oidc-idp';
import { baseRequest, startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let idp: TestIdp;
beforeAll(async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  idp = await startIdp({
    redirectUri: `${base}/console/callback`,
    accounts: {
      'u-alice': { email: 'Alice@Example.com', email_verified: true, name: 'Alice Approver' },
      'u-bob': { email: 'bob@example.com', email_verified: true, name: 'Bob' },
      'u-fake-bob': { email: 'bob@example.com', email_verified: false, name: 'Not Bob' },
      'u-mallory': { name: 'Mallory' },
      'u-stranger': { email: 'stranger@example.com', email_verified: true },
    },
  });
  t = await startTestApp({
    env: {
      PORT: String(port), PUBLIC_BASE_URL: base,
      OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: IDP_CLIENT.client_id, OIDC_CLIENT_SECRET: IDP_CLIENT.client_secret,
    },
  });
});
afterAll(async () => {
  await t?.close();
  await idp?.close();
});

async function ownerQuery<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: t.database.url });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function signIn(account: string, start = '/console/login?next=/console/inbox') {
  await idp.nextLogin(account);
  const b = new ConsoleBrowser(t);
  const { callback, authorizeUrl } = await signInThroughIdp(b, idp, start);
  return { b, callback, authorizeUrl };
}

it('signs in with the authorization code flow (PKCE, state, nonce) and links the IdP subject by verified email', async () => {
  expect((await new ConsoleBrowser(t).get('/console/api/sign-in')).body).toEqual({ idp: true, loginUrl: '/console/login' });
  const { b, callback, authorizeUrl } = await signIn('u-alice');
  const q = authorizeUrl.searchParams;
  expect(authorizeUrl.origin).toBe(idp.issuer);
  expect(q.get('response_type')).toBe('code');
  expect(q.get('client_id')).toBe(IDP_CLIENT.client_id);
  expect(q.get('redirect_uri')).toBe(`${t.config.PUBLIC_BASE_URL}/console/callback`);
  expect(q.get('code_challenge_method')).toBe('S256');
  expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(q.get('state')).toBeTruthy();
  expect(q.get('nonce')).toBeTruthy();
  expect(q.get('prompt')).toBeNull();

  expect(callback.status).toBe(302);
  expect(callback.headers.get('location')).toBe('/console/inbox');
  await b.refreshCsrf();
  const session = (await b.get('/console/api/session')).body;
  expect(session).toMatchObject({ person: { id: 'alice@example.com' }, roles: ['approver'], signIn: 'oidc' });

  const identity = `idp:${idp.issuer}|u-alice`;
  expect(await ownerQuery('SELECT person_id, verified_by FROM person_identity WHERE identity = $1', [identity])).toEqual([{ person_id: 'alice@example.com', verified_by: 'idp-verified-email' }]);
  const linked = (await t.call('GET', '/v1/audit?type=person.linked')).body.items;
  expect(linked).toEqual([expect.objectContaining({ data: expect.objectContaining({ person: 'alice@example.com', identity, channel: 'web' }) })]);
  const signedIn = (await t.call('GET', '/v1/audit?type=console.signed_in')).body.items;
  expect(signedIn[0].data).toMatchObject({ person: 'alice@example.com', signIn: 'oidc', identity, verifiedEmail: 'Alice@Example.com' });

  // Next time the subject alone finds her (the link), whatever the email says.
  const again = await signIn('u-alice');
  expect((await again.b.get('/console/api/session')).body.person.id).toBe('alice@example.com');
});

it('maps by subject when the directory holds the IdP identity', async () => {
  await t.app.services.directory.link('mallory', `idp:${idp.issuer}|u-mallory`, 'test');
  const { b, callback } = await signIn('u-mallory');
  expect(callback.status).toBe(302);
  expect((await b.get('/console/api/session')).body.person).toEqual({ id: 'mallory', name: 'Mallory Outsider' });
});

it('refuses people the directory does not know, and emails the IdP did not verify', async () => {
  const unverified = await signIn('u-fake-bob');
  expect(unverified.callback).toMatchObject({ status: 403, body: { code: 'unknown_person' } });
  expect(unverified.b.cookie).toBeUndefined();
  const stranger = await signIn('u-stranger');
  expect(stranger.callback).toMatchObject({ status: 403, body: { code: 'unknown_person' } });
  const refused = (await t.call('GET', '/v1/audit?type=console.sign_in_refused')).body.items;
  expect(refused.map((e: any) => [e.data.identity, e.data.emailVerified])).toEqual([
    [`idp:${idp.issuer}|u-fake-bob`, false],
    [`idp:${idp.issuer}|u-stranger`, true],
  ]);
  expect(await ownerQuery('SELECT identity FROM person_identity WHERE identity LIKE $1', [`%u-fake-bob`])).toEqual([]);
});

it('binds the callback to the browser that started it, once, with its state', async () => {
  await idp.nextLogin('u-bob');
  const b = new ConsoleBrowser(t);
  const first = await b.get('/console/login');
  const idpJar = new Map<string, string>();
  let url = first.headers.get('location')!;
  while (!url.startsWith(t.config.PUBLIC_BASE_URL!)) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: [...idpJar].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const c of res.headers.getSetCookie()) {
      const m = /^([^=]+)=([^;]*)/.exec(c)!;
      idpJar.set(m[1], m[2]);
    }
    url = new URL(res.headers.get('location')!, url).href;
  }
  const callback = url.replace(t.config.PUBLIC_BASE_URL!, '');
  // Another browser (no login cookie) cannot complete it.
  expect(await new ConsoleBrowser(t).get(callback)).toMatchObject({ status: 401, body: { code: 'sign_in_failed' } });
  // A changed state is refused (and spends the attempt).
  const tampered = new URL(url);
  tampered.searchParams.set('state', 'forged-state');
  const jar = new Map(b.jar);
  expect(await b.get(tampered.pathname + tampered.search)).toMatchObject({ status: 401, body: { code: 'sign_in_failed' } });
  // The genuine callback is now spent as well: a login is completed at most once.
  b.jar.clear();
  for (const [k, v] of jar) b.jar.set(k, v);
  expect(await b.get(callback)).toMatchObject({ status: 401, body: { code: 'sign_in_failed' } });
  expect(b.cookie).toBeUndefined();
});

it('never redirects anywhere but the console after sign-in', async () => {
  for (const next of ['https://evil.example/', '//evil.example', '/v1/requests', '/console\\@evil']) {
    const { callback } = await signIn('u-bob', `/console/login?next=${encodeURIComponent(next)}`);
    expect(callback.headers.get('location')).toBe('/console/');
  }
});

describe('step-up', () => {
  it('asks for a fresh IdP sign-in (prompt=login, max_age) before a high-risk decision, then accepts it', async () => {
    const { b } = await signIn('u-alice');
    await b.refreshCsrf();
    const id = (await t.submit(baseRequest({ action: 'service.restart', risk: 'high' }))).body.id;
    // The session's sign-in is old now.
    await ownerQuery(`UPDATE console_session SET auth_time = now() - interval '1 hour' WHERE token_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')`, [b.cookie]);

    const refused = await b.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' });
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ code: 'step_up_required', risk: 'high', maxAgeSeconds: t.config.CONSOLE_STEP_UP_MAX_AGE_SECONDS });
    expect(refused.body.location).toBe(`/console/login?next=${encodeURIComponent(`/console/requests/${id}`)}&stepUp=1`);
    expect((await t.call('GET', `/v1/requests/${id}`)).body.votes).toEqual([]);
    expect((await t.call('GET', `/v1/audit?requestId=${id}&type=console.step_up_refused`)).body.items[0].data).toMatchObject({ code: 'step_up_required', signIn: 'oidc', risk: 'high' });

    const oldCookie = b.cookie;
    await idp.nextLogin('u-alice');
    const { callback, authorizeUrl } = await signInThroughIdp(b, idp, refused.body.location);
    expect(authorizeUrl.searchParams.get('prompt')).toBe('login');
    expect(authorizeUrl.searchParams.get('max_age')).toBe(String(t.config.CONSOLE_STEP_UP_MAX_AGE_SECONDS));
    expect(callback.status).toBe(302);
    expect(callback.headers.get('location')).toBe(`/console/requests/${id}`);
    expect(b.cookie).not.toBe(oldCookie);
    await b.refreshCsrf();
    const session = (await b.get('/console/api/session')).body;
    expect(Date.now() - Date.parse(session.authTime)).toBeLessThan(t.config.CONSOLE_STEP_UP_MAX_AGE_SECONDS * 1000);

    const decided = await b.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' });
    expect(decided).toMatchObject({ status: 201, body: { status: 'approved' } });
    expect(decided.body.votes[0]).toMatchObject({ channel: 'web', personKey: 'alice@example.com', approver: { name: 'alice@example.com', email: 'alice@example.com' } });

    // The replaced session is over.
    const stale = new ConsoleBrowser(t);
    stale.cookie = oldCookie;
    expect((await stale.get('/console/api/session')).status).toBe(401);
    const out = (await t.call('GET', '/v1/audit?type=console.signed_out')).body.items;
    expect(out.some((e: any) => e.data.why === 'replaced' && e.data.person === 'alice@example.com')).toBe(true);
  });

  it('lets a fresh IdP session decide a critical request at once', async () => {
    const { b } = await signIn('u-bob');
    await b.refreshCsrf();
    const id = (await t.submit(baseRequest({ action: 'service.restart', risk: 'critical' }))).body.id;
    expect(await b.post(`/console/api/requests/${id}/decisions`, { decision: 'approve' })).toMatchObject({ status: 201, body: { status: 'approved' } });
  });
});
