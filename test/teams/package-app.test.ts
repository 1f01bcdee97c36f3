import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { packageApp, renderManifest } from '../../adapters/teams/scripts/package-app';
import { colorIcon, outlineIcon } from '../../adapters/teams/scripts/make-icons';

/** Reads a zip through its central directory (what Teams' uploader does), returning each entry's bytes. */
function readZip(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThan(0);
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    expect(zip.readUInt32LE(p)).toBe(0x02014b50);
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    const localOffset = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLength);
    const dataStart = localOffset + 30 + zip.readUInt16LE(localOffset + 26) + zip.readUInt16LE(localOffset + 28);
    const data = zip.subarray(dataStart, dataStart + compressed);
    entries.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

const APP_ID = 'C1A2B3C4-D5E6-4F70-8192-A3B4C5D6E7F8';

describe('Teams app package', () => {
  it('zips manifest.json with the bot id filled in and both icons, flat at the root', async () => {
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'cs-teams-')), 'app.zip');
    expect(await packageApp({ appId: APP_ID, websiteUrl: 'https://countersign.example.com/', out })).toBe(out);
    const entries = readZip(readFileSync(out));
    expect([...entries.keys()].sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);

    const manifest = JSON.parse(entries.get('manifest.json')!.toString('utf8'));
    expect(manifest).toMatchObject({
      manifestVersion: '1.17',
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      id: APP_ID.toLowerCase(),
      developer: { websiteUrl: 'https://countersign.example.com', privacyUrl: 'https://countersign.example.com' },
      icons: { color: 'color.png', outline: 'outline.png' },
      bots: [{ botId: APP_ID.toLowerCase(), scopes: ['team', 'groupChat', 'personal'] }],
    });
    expect(JSON.stringify(manifest)).not.toMatch(/\{\{/);
    expect(manifest.name.short.length).toBeLessThanOrEqual(30);
    expect(manifest.description.short.length).toBeLessThanOrEqual(80);

    // PNG header: width and height in IHDR.
    const size = (png: Buffer) => [png.readUInt32BE(16), png.readUInt32BE(20)];
    expect(size(entries.get('color.png')!)).toEqual([192, 192]);
    expect(size(entries.get('outline.png')!)).toEqual([32, 32]);
  });

  it('keeps the committed icons in step with the generator', () => {
    const dir = path.resolve(__dirname, '../../adapters/teams/manifest');
    expect(readFileSync(path.join(dir, 'color.png')).equals(colorIcon())).toBe(true);
    expect(readFileSync(path.join(dir, 'outline.png')).equals(outlineIcon())).toBe(true);
  });

  it('refuses a missing or malformed bot id and non-https URLs', () => {
    expect(() => renderManifest({ appId: '', websiteUrl: 'https://x.example' })).toThrow(/GUID/);
    expect(() => renderManifest({ appId: APP_ID, websiteUrl: 'http://x.example' })).toThrow(/https/);
    expect(() => renderManifest({ appId: APP_ID, websiteUrl: 'https://x.example', version: 'v1' })).toThrow(/1\.2\.3/);
  });
});
