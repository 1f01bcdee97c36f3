/**
 * The test IdP (test/support/idp-server.mjs, a real `oidc-provider`) as a child process, and a browser's round trip
 * through it: the console's /console/login, the IdP's authorization endpoint and automated login, the callback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ConsoleBrowser, storeCookies, type ConsoleResponse } from './console-client';

export interface TestIdp {
  issuer: string;
  /** Chooses who the next login at the IdP signs in as. */
  nextLogin(account: string): Promise<void>;
  close(): Promise<void>;
}

export const IDP_CLIENT = { client_id: 'countersign-console', client_secret: 'console-client-secret-0123456789abcdef' };

export async function startIdp(opts: { redirectUri: string; accounts: Record<string, Record<string, unknown>> }): Promise<TestIdp> {
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'idp-server.mjs')], {
    env: {
      ...process.env,
      IDP_CLIENTS: JSON.stringify([{ ...IDP_CLIENT, redirect_uris: [opts.redirectUri], require_auth_time: true, grant_types: ['authorization_code'], response_types: ['code'] }]),
      IDP_ACCOUNTS: JSON.stringify(opts.accounts),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const issuer = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the test IdP did not start: ${stderr}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`the test IdP exited (${code}): ${stderr}`)));
  });
  return {
    issuer,
    async nextLogin(account) {
      const res = await fetch(`${issuer}/_test/next-login`, { method: 'POST', body: JSON.stringify({ account }) });
      if (res.status !== 204) throw new Error(`next-login failed: ${res.status}`);
    },
    async close() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}

/**
 * Goes through a sign-in like a browser: `start` (a console URL that redirects to the IdP: /console/login?…, or a
 * step-up `location`), the IdP's redirects with its own cookie jar, and the console's callback. Returns the callback's
 * answer and every IdP authorization URL visited.
 */
export async function signInThroughIdp(b: ConsoleBrowser, idp: TestIdp, start: string): Promise<{ callback: ConsoleResponse; authorizeUrl: URL }> {
  const first = await b.get(start);
  if (first.status !== 302) throw new Error(`console login did not redirect: ${first.status} ${JSON.stringify(first.body)}`);
  const authorizeUrl = new URL(first.headers.get('location')!);
  const idpJar = new Map<string, string>();
  let url = authorizeUrl.href;
  for (let hops = 0; hops < 10; hops++) {
    if (url.startsWith(b.t.baseUrl) || url.startsWith(b.t.config.PUBLIC_BASE_URL!)) {
      return { callback: await b.get(url.replace(b.t.config.PUBLIC_BASE_URL!, '')), authorizeUrl };
    }
    const res = await fetch(url, { redirect: 'manual', headers: idpJar.size ? { cookie: [...idpJar].map(([k, v]) => `${k}=${v}`).join('; ') } : {} });
    storeCookies(idpJar, res.headers);
    const location = res.headers.get('location');
    if (!location) throw new Error(`the IdP stopped at ${url}: ${res.status} ${await res.text()}`);
    url = new URL(location, url).href;
  }
  throw new Error('too many redirects at the IdP');
}
