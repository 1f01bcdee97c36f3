/**
 * The web console's static serving: index.html for /console/ and its client-side routes, the hashed bundle (also
 * pre-compressed), the strict security headers on every /console response, and a bundle that loads nothing from
 * outside the service (air-gapped installs, CSP `default-src 'none'`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { chromium } from 'playwright-core';
import { buildConsole, type ConsoleBuildResult } from '../../console/build';
import { CONSOLE_CSP, registerConsoleStaticRoutes } from '../../src/http/routes/console-static-routes';
import { startTestApp, type TestApp } from '../support/start-app';

let t: TestApp;
let built: ConsoleBuildResult;

beforeAll(async () => {
  built = await buildConsole();
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

function expectConsoleHeaders(headers: Headers) {
  expect(headers.get('content-security-policy')).toBe(
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  );
  expect(headers.get('x-content-type-options')).toBe('nosniff');
  expect(headers.get('referrer-policy')).toBe('no-referrer');
}

/** A raw GET (no automatic decompression), to see the bytes on the wire. */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console static serving', () => {
  it('serves index.html at /console/ and every client-side route, with the strict headers', async () => {
    for (const p of ['/console/', '/console/?from=slack', '/console/requests/7d0c3a52-3d4e-4b7a-9d8c-0a1b2c3d4e5f', '/console/lineage?traceId=run-1', '/console/audit', '/console/policy']) {
      const res = await fetch(t.baseUrl + p);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expectConsoleHeaders(res.headers);
      const html = await res.text();
      expect(html).toContain('<div id="app">');
      // Only external files of its own: no inline script or style, which the CSP would block anyway.
      expect(html).not.toMatch(/<script(?![^>]*\ssrc="\/console\/assets\/app-[A-Z0-9]+\.js")/i);
      expect(html).not.toMatch(/<style|\sstyle=/i);
    }
    const bare = await fetch(t.baseUrl + '/console', { redirect: 'manual' });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/console/');
  });

  it('serves the hashed bundle it names, immutable, gzipped when asked', async () => {
    const html = await (await fetch(t.baseUrl + '/console/')).text();
    const script = /src="(\/console\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/console\/assets\/app-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();

    const js = await rawGet(t.baseUrl + script!, { 'accept-encoding': 'identity' });
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-encoding']).toBeUndefined();
    expect(js.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(js.body.equals(readFileSync(path.join(built.outDir, path.basename(script!))))).toBe(true);

    const gz = await rawGet(t.baseUrl + script!, { 'accept-encoding': 'gzip, deflate' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toMatch(/accept-encoding/i);
    expect(gunzipSync(gz.body).equals(js.body)).toBe(true);
    // The first load stays within its budget (README, Web console).
    expect(gz.body.length).toBe(built.firstLoadJsGzip);
    expect(gz.body.length).toBeLessThan(300 * 1024);

    const css = await rawGet(t.baseUrl + style!, { 'accept-encoding': 'identity' });
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('serves only files of the build: no traversal, no unknown names, no index.html as an asset', async () => {
    for (const p of ['/console/assets/nope.js', '/console/assets/index.html', '/console/assets/manifest.json', '/console/assets/..%2F..%2Fpackage.json', '/console/assets/%2e%2e%2fbuild.ts']) {
      const res = await fetch(t.baseUrl + p);
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.code).toBe('asset_not_found');
      expectConsoleHeaders(res.headers);
    }
  });

  it('answers unknown backend paths under /console in JSON, never with the page', async () => {
    const res = await fetch(t.baseUrl + '/console/api/no-such-route-here');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await res.json()) as any).error.code).toBe('route_not_found');
    expectConsoleHeaders(res.headers);
  });

  it('leaves the API without the console headers', async () => {
    const res = await t.call('GET', '/healthz', { key: '' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBeNull();
  });

  it('bundles everything: the script and stylesheet name no other origin', () => {
    for (const f of built.files) {
      const text = readFileSync(path.join(built.outDir, f.name), 'utf8');
      // XML namespace names (SVG) are identifiers, never fetched; any other absolute URL would be a load from elsewhere.
      const urls = (text.match(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s"'`)]*/gi) ?? []).filter((u) => !/^http:\/\/www\.w3\.org\//.test(u));
      expect({ file: f.name, urls }).toEqual({ file: f.name, urls: [] });
      expect(text).not.toMatch(/@import|url\(\s*['"]?(?:https?:)?\/\//i);
    }
  });

  it('serves no console page or asset when the console is off (CONSOLE_ENABLED=false)', async () => {
    const off = await startTestApp({ env: { CONSOLE_ENABLED: 'false' } });
    try {
      const script = /src="(\/console\/assets\/app-[A-Z0-9]+\.js)"/.exec(await (await fetch(t.baseUrl + '/console/')).text())![1];
      for (const p of ['/console/', '/console/inbox', script]) {
        const res = await fetch(off.baseUrl + p);
        expect(res.status).toBe(404);
        expect(res.headers.get('content-type')).toMatch(/application\/json/);
      }
    } finally {
      await off.close();
    }
  });

  it('runs in Chromium under its CSP and, with no identity provider configured, offers one-time links', async () => {
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
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) problems.push(m.text());
      });
      await page.goto(`${t.baseUrl}/console/`);
      await page.getByTestId('no-idp').waitFor({ timeout: 15_000 });
      expect(await page.getByTestId('no-idp').textContent()).toContain('one-time links');
      expect(await page.getByRole('link', { name: 'Sign in with your identity provider' }).count()).toBe(0);
      expect(problems).toEqual([]);
    } finally {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says how to build the console when the bundle is missing, and picks the build up once it exists', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cs-console-'));
    const app = Fastify();
    registerConsoleStaticRoutes(app, { dir: path.join(dir, 'console') });
    const missing = await app.inject({ method: 'GET', url: '/console/' });
    expect(missing.statusCode).toBe(503);
    expect(missing.json().error.code).toBe('console_not_built');
    expect(missing.headers['content-security-policy']).toBe(CONSOLE_CSP);

    await buildConsole({ outDir: path.join(dir, 'console') });
    const page = await app.inject({ method: 'GET', url: '/console/inbox' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('/console/assets/app-');
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
