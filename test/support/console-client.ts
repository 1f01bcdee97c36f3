/**
 * Web console test helpers: the real app on a port known before it starts (the console's Origin check and the IdP's
 * redirect URI need PUBLIC_BASE_URL), one-time sign-in links made with the real CLI, and a browser-like client that
 * keeps the session cookie and sends the CSRF token and Origin a browser would.
 */
import { createServer } from 'node:net';
import { runCli } from '../../src/cli/cli';
import { startTestApp, type TestApp } from './start-app';

/** A port free right now (the OS picks it; the app binds it a moment later). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startConsoleApp(opts: Parameters<typeof startTestApp>[0] = {}): Promise<TestApp> {
  const port = await freePort();
  return startTestApp({ ...opts, env: { PORT: String(port), PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, ...(opts.env ?? {}) } });
}

/** The environment the CLI would run with for this app (same database, policy, base URL). */
export function cliEnv(t: TestApp): NodeJS.ProcessEnv {
  return { ...process.env, ...Object.fromEntries(Object.entries(t.config).filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean').map(([k, v]) => [k, String(v)])) };
}

/** `npm run cli -- console link --person <ref>`: returns the link it printed. */
export async function makeLink(t: TestApp, person: string): Promise<string> {
  const out: string[] = [];
  const code = await runCli(['console', 'link', '--person', person], (s) => out.push(s), cliEnv(t));
  if (code !== 0) throw new Error(`console link failed (${code}): ${out.join('\n')}`);
  const url = out.find((l) => l.includes('/console/link/'));
  if (!url) throw new Error(`no link printed: ${out.join('\n')}`);
  return url.trim();
}

export interface ConsoleResponse {
  status: number;
  body: any;
  headers: Headers;
}

/** A browser stand-in: one cookie jar (cs_session), the CSRF token from /console/api/session, the app's Origin. */
export class ConsoleBrowser {
  /** The app's cookies by name (cs_session, cs_login). */
  readonly jar = new Map<string, string>();
  csrf: string | undefined;

  get cookie(): string | undefined {
    return this.jar.get('cs_session');
  }

  set cookie(value: string | undefined) {
    if (value) this.jar.set('cs_session', value);
    else this.jar.delete('cs_session');
  }

  constructor(readonly t: TestApp) {}

  /** Follows a one-time link like a browser: stores the session cookie it sets. */
  async open(url: string): Promise<ConsoleResponse> {
    const res = await this.raw('GET', url);
    return res;
  }

  async signInWithLink(person: string): Promise<this> {
    const res = await this.open(await makeLink(this.t, person));
    if (res.status !== 302) throw new Error(`link sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
    await this.refreshCsrf();
    return this;
  }

  async refreshCsrf(): Promise<void> {
    const s = await this.get('/console/api/session');
    this.csrf = s.body?.csrfToken;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    return this.raw('GET', path, undefined, headers);
  }

  post(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    return this.raw('POST', path, body, { origin: this.t.config.PUBLIC_BASE_URL!, ...(this.csrf ? { 'x-csrf-token': this.csrf } : {}), ...headers });
  }

  async raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    const h: Record<string, string> = { ...headers };
    if (this.jar.size && !('cookie' in h)) h.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) h['content-type'] = 'application/json';
    const url = path.startsWith('http') ? path : this.t.baseUrl + path;
    const res = await fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' });
    storeCookies(this.jar, res.headers);
    const text = await res.text();
    let json: any = text;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: json, headers: res.headers };
  }
}

/** A minimal cookie jar for one origin: names and values (attributes are the server's business, tested elsewhere). */
export function storeCookies(jar: Map<string, string>, headers: Headers): void {
  for (const c of headers.getSetCookie()) {
    const m = /^([^=;\s]+)=([^;]*)/.exec(c);
    if (!m) continue;
    if (!m[2] || /Max-Age=0(;|$)/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(m[1]);
    else jar.set(m[1], m[2]);
  }
}
