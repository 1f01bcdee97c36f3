/**
 * Builds the web console (console/src, Preact) into dist/console/: one content-hashed script and stylesheet, their
 * pre-compressed .gz twins, and the index.html that names them. Countersign serves these files itself (air-gapped
 * installs have no CDN). Run by `npm run console:build`, which `postinstall`, `start` and the Docker build call.
 *
 * Usage: `tsx console/build.ts [--out <dir>]`; prints each file's size and the gzip size of the first load.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

export const CONSOLE_SOURCE_DIR = path.join(__dirname, 'src');
/** Where the server looks for the bundle: `<package root>/dist/console`. */
export const CONSOLE_OUT_DIR = path.join(__dirname, '..', 'dist', 'console');

/** The first load must stay below this many bytes of compressed JavaScript (README, Web console). */
export const FIRST_LOAD_BUDGET = 300 * 1024;

export interface ConsoleBuildResult {
  outDir: string;
  /** Files written, with raw and gzip sizes. */
  files: { name: string; bytes: number; gzipBytes: number }[];
  /** Gzip size of all JavaScript the index page loads. */
  firstLoadJsGzip: number;
}

/**
 * Bundles, hashes and writes the console atomically: the new files go into a sibling directory that then replaces
 * the old one, so a server reading the directory never sees half a build.
 */
export async function buildConsole(opts: { outDir?: string } = {}): Promise<ConsoleBuildResult> {
  const outDir = opts.outDir ?? CONSOLE_OUT_DIR;
  const result = await build({
    entryPoints: [path.join(CONSOLE_SOURCE_DIR, 'main.tsx')],
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: 'out',
    entryNames: 'app-[hash]',
    assetNames: 'asset-[hash]',
    // Everything is bundled: the page may load nothing from elsewhere (CSP `default-src 'none'`).
    platform: 'browser',
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = result.outputFiles.map((f) => ({ name: path.basename(f.path), contents: f.contents }));
  const script = outputs.find((o) => o.name.endsWith('.js'));
  const style = outputs.find((o) => o.name.endsWith('.css'));
  if (!script || !style) throw new Error('console build produced no script or no stylesheet');

  const index = Buffer.from(indexHtml(script.name, style.name));
  const files = [...outputs, { name: 'index.html', contents: index }];

  const staging = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(staging, { recursive: true });
  const written: ConsoleBuildResult['files'] = [];
  for (const f of files) {
    const gz = gzipSync(f.contents, { level: 9 });
    writeFileSync(path.join(staging, f.name), f.contents);
    writeFileSync(path.join(staging, `${f.name}.gz`), gz);
    written.push({ name: f.name, bytes: f.contents.length, gzipBytes: gz.length });
  }
  writeFileSync(
    path.join(staging, 'manifest.json'),
    JSON.stringify({ script: script.name, style: style.name, builtAt: new Date().toISOString() }, null, 2),
  );
  swapInto(staging, outDir);
  const firstLoadJsGzip = written.filter((f) => f.name.endsWith('.js')).reduce((n, f) => n + f.gzipBytes, 0);
  return { outDir, files: written, firstLoadJsGzip };
}

function swapInto(staging: string, outDir: string): void {
  const old = `${outDir}.old-${process.pid}-${Date.now()}`;
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(staging, outDir);
  rmSync(old, { recursive: true, force: true });
}

/** The one HTML page: no inline script or style (the CSP forbids both), the app mounts into #app. */
function indexHtml(script: string, style: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    '<title>Countersign console</title>',
    // No favicon request to the server root (outside /console); an empty data: icon is allowed by img-src.
    '<link rel="icon" href="data:,">',
    `<link rel="stylesheet" href="/console/assets/${style}">`,
    `<script type="module" src="/console/assets/${script}"></script>`,
    '</head>',
    '<body>',
    '<div id="app"><noscript>The Countersign console needs JavaScript.</noscript></div>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function kb(n: number): string {
  return `${(n / 1024).toFixed(1)} KB`;
}

if (require.main === module) {
  const i = process.argv.indexOf('--out');
  buildConsole({ outDir: i > 0 ? path.resolve(process.argv[i + 1]) : undefined })
    .then((r) => {
      for (const f of r.files) console.log(`  ${f.name.padEnd(28)} ${kb(f.bytes).padStart(10)}  (gzip ${kb(f.gzipBytes)})`);
      const verdict = r.firstLoadJsGzip <= FIRST_LOAD_BUDGET ? 'within' : 'OVER';
      console.log(`console built into ${path.relative(process.cwd(), r.outDir) || r.outDir}: first load ${kb(r.firstLoadJsGzip)} of JavaScript gzipped (${verdict} the ${kb(FIRST_LOAD_BUDGET)} budget)`);
      if (r.firstLoadJsGzip > FIRST_LOAD_BUDGET) process.exitCode = 1;
    })
    .catch((err) => {
      console.error(err);
      process.exitCode = 1;
    });
}
