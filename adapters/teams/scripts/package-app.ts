/**
 * Builds the Teams app package to upload in Teams (Apps → Manage your apps → Upload an app) or the Teams admin
 * center: manifest.json with the bot's app id filled in, plus the two icons, zipped flat as Teams requires.
 *
 *   npm run teams:package -- --app-id <MICROSOFT_APP_ID> --website-url https://countersign.example.com \
 *     [--privacy-url …] [--terms-url …] [--developer-name …] [--out adapters/teams/dist/countersign-teams.zip]
 *
 * `--app-id` defaults to $MICROSOFT_APP_ID and `--website-url` to $PUBLIC_BASE_URL (it must be https).
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ZipFile } from 'yazl';

const MANIFEST_DIR = path.resolve(__dirname, '../manifest');
export const DEFAULT_OUT = path.resolve(__dirname, '../dist/countersign-teams.zip');
const ICONS = ['color.png', 'outline.png'] as const;

export interface PackageOptions {
  appId: string;
  websiteUrl: string;
  privacyUrl?: string;
  termsUrl?: string;
  developerName?: string;
  /** Package version (x.y.z); defaults to package.json's. */
  version?: string;
  out?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function httpsUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be an https URL (got "${value}")`);
  }
  if (url.protocol !== 'https:') throw new Error(`${name} must be an https URL; Teams refuses others (got "${value}")`);
  return url.toString().replace(/\/$/, '');
}

function projectVersion(): string {
  const pkg = JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Fills the manifest template. Throws when a value is missing or malformed, naming it. */
export function renderManifest(opts: PackageOptions, template = readFileSync(path.join(MANIFEST_DIR, 'manifest.json'), 'utf8')): Record<string, unknown> {
  if (!GUID.test(opts.appId ?? '')) throw new Error(`the bot's app id must be the Azure Bot's Microsoft App ID, a GUID (got "${opts.appId ?? ''}")`);
  const website = httpsUrl('--website-url', opts.websiteUrl);
  const version = opts.version ?? projectVersion();
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`the package version must look like 1.2.3 (got "${version}")`);
  const values: Record<string, string> = {
    MICROSOFT_APP_ID: opts.appId.toLowerCase(),
    VERSION: version,
    DEVELOPER_NAME: opts.developerName ?? 'Countersign',
    WEBSITE_URL: website,
    PRIVACY_URL: opts.privacyUrl ? httpsUrl('--privacy-url', opts.privacyUrl) : website,
    TERMS_URL: opts.termsUrl ? httpsUrl('--terms-url', opts.termsUrl) : website,
  };
  const filled = template.replace(/\{\{([A-Z_]+)\}\}/g, (match, key: string) => {
    if (!(key in values)) throw new Error(`manifest.json uses ${match}, which the packaging script does not know`);
    return JSON.stringify(values[key]).slice(1, -1);
  });
  return JSON.parse(filled) as Record<string, unknown>;
}

/** Writes the zip and resolves with its path. */
export async function packageApp(opts: PackageOptions): Promise<string> {
  const manifest = renderManifest(opts);
  const out = path.resolve(opts.out ?? DEFAULT_OUT);
  await mkdir(path.dirname(out), { recursive: true });
  const zip = new ZipFile();
  // A fixed timestamp keeps the package byte-for-byte reproducible for the same inputs.
  const mtime = new Date('2020-01-01T00:00:00Z');
  zip.addBuffer(Buffer.from(JSON.stringify(manifest, null, 2) + '\n'), 'manifest.json', { mtime });
  for (const icon of ICONS) zip.addBuffer(readFileSync(path.join(MANIFEST_DIR, icon)), icon, { mtime });
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const file = createWriteStream(out);
    file.on('close', resolve).on('error', reject);
    zip.outputStream.on('error', reject).pipe(file);
  });
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'app-id': { type: 'string' },
      'website-url': { type: 'string' },
      'privacy-url': { type: 'string' },
      'terms-url': { type: 'string' },
      'developer-name': { type: 'string' },
      version: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const out = await packageApp({
    appId: values['app-id'] ?? process.env.MICROSOFT_APP_ID ?? '',
    websiteUrl: values['website-url'] ?? process.env.PUBLIC_BASE_URL ?? '',
    privacyUrl: values['privacy-url'],
    termsUrl: values['terms-url'],
    developerName: values['developer-name'],
    version: values.version,
    out: values.out,
  });
  console.log(`Teams app package written to ${out}`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(`teams:package: ${err.message}`);
    process.exitCode = 1;
  });
}
