/**
 * The web console's static files, served by Countersign itself (air-gapped installs have no CDN): index.html for
 * /console/ and every client-side route under it, the hashed bundle under /console/assets/, and the security headers
 * (strict Content-Security-Policy, nosniff, no referrer) on every /console response, the backend's JSON included.
 * The bundle is built ahead of time into dist/console (`npm run console:build`, run by postinstall and start); when it
 * is missing the console answers 503 with the command to run, and the API is unaffected.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The console's policy: nothing but its own origin; no inline script or style, no framing, no foreign forms. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths under /console that belong to the console backend, never to the single-page app. */
const BACKEND_PREFIXES = ['/console/api/', '/console/login', '/console/callback', '/console/link/', '/console/logout'];

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

interface StaticFile {
  body: Buffer;
  gzip: Buffer | null;
  contentType: string;
}

/** The default bundle directory: `<package root>/dist/console`, found from here in source (tsx) and compiled form. */
export function defaultConsoleDir(): string {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.join(dir, 'dist', 'console');
}

/**
 * Reads the bundle into memory (a few tens of KB) the first time it is asked for, and again while it is missing, so
 * a build finished after start-up is picked up. Only files of the build are served: no path from the URL ever
 * reaches the file system.
 */
function bundleLoader(dir: string) {
  let files: Map<string, StaticFile> | null = null;
  return (): Map<string, StaticFile> | null => {
    if (files) return files;
    if (!existsSync(path.join(dir, 'index.html'))) return null;
    const loaded = new Map<string, StaticFile>();
    for (const name of readdirSync(dir)) {
      const type = CONTENT_TYPES[path.extname(name)];
      if (!type) continue;
      const gz = path.join(dir, `${name}.gz`);
      loaded.set(name, { body: readFileSync(path.join(dir, name)), gzip: existsSync(gz) ? readFileSync(gz) : null, contentType: type });
    }
    files = loaded;
    return files;
  };
}

/** Registers the console's static routes and its headers on the root instance (so they cover the backend's routes). */
export function registerConsoleStaticRoutes(app: FastifyInstance, opts: { dir?: string } = {}): void {
  const load = bundleLoader(opts.dir ?? defaultConsoleDir());

  app.addHook('onSend', async (req, reply) => {
    const pathname = req.url.split('?')[0];
    if (pathname !== '/console' && !pathname.startsWith('/console/')) return;
    void reply.header('content-security-policy', CONSOLE_CSP);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'no-referrer');
    void reply.header('x-frame-options', 'DENY');
    void reply.header('cross-origin-opener-policy', 'same-origin');
  });

  function send(reply: FastifyReply, acceptEncoding: string | undefined, file: StaticFile, cacheControl: string) {
    void reply.header('content-type', file.contentType).header('cache-control', cacheControl).header('vary', 'accept-encoding');
    if (file.gzip && /\bgzip\b/.test(acceptEncoding ?? '')) return reply.header('content-encoding', 'gzip').send(file.gzip);
    return reply.send(file.body);
  }

  function notBuilt(reply: FastifyReply) {
    return reply
      .status(503)
      .header('cache-control', 'no-store')
      .send({ error: { code: 'console_not_built', message: 'The web console is not built: run `npm run console:build`.' } });
  }

  const index = async (req: FastifyRequest, reply: FastifyReply) => {
    const pathname = req.url.split('?')[0];
    // An unknown backend path is a 404 in JSON, not the app's page (a client expecting JSON would get HTML).
    if (BACKEND_PREFIXES.some((p) => pathname.startsWith(p) || `${pathname}/` === p)) {
      return reply.status(404).send({ error: { code: 'route_not_found', message: `No route ${pathname}.` } });
    }
    const files = load();
    const file = files?.get('index.html');
    if (!file) return notBuilt(reply);
    // The page names hashed assets: always revalidated so a new build is seen at once.
    return send(reply, req.headers['accept-encoding'], file, 'no-cache');
  };

  app.get('/console', async (_req, reply) => reply.redirect('/console/', 302));
  app.get('/console/', index);
  app.get('/console/*', index);

  app.get<{ Params: { file: string } }>('/console/assets/:file', async (req, reply) => {
    const files = load();
    if (!files) return notBuilt(reply);
    const name = req.params.file;
    const file = name === 'index.html' || name.endsWith('.gz') ? undefined : files.get(name);
    if (!file) return reply.status(404).send({ error: { code: 'asset_not_found', message: `No console asset ${name}.` } });
    // Names carry their content hash: they never change, so browsers keep them for a year.
    return send(reply, req.headers['accept-encoding'], file, 'public, max-age=31536000, immutable');
  });
}
