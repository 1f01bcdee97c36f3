/**
 * Draws the Teams app icons (adapters/teams/manifest/color.png 192×192 and outline.png 32×32) so they can be
 * regenerated without an image editor: a white check mark, on the accent colour for the colour icon and on
 * transparency for the outline icon (Teams requires the outline to be white on transparent).
 *
 *   npx tsx adapters/teams/scripts/make-icons.ts
 *
 * Hand-written PNG encoding (zlib deflate + CRC32 from node:zlib) because the project has no image library and
 * these two files are tiny.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

type Rgba = [number, number, number, number];

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([length, body, crc]);
}

/** Encodes RGBA pixels (row-major) as a PNG. */
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => Rgba): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // colour type RGBA
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 4 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) raw.set(pixel(x, y), row + 1 + x * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function distanceToSegment(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/** Coverage (0..1) of a check mark at (x, y) in a size×size icon, anti-aliased over one pixel. */
function checkMark(x: number, y: number, size: number): number {
  const s = size / 32;
  const d = Math.min(distanceToSegment(x + 0.5, y + 0.5, 8 * s, 17 * s, 13.5 * s, 22.5 * s), distanceToSegment(x + 0.5, y + 0.5, 13.5 * s, 22.5 * s, 24 * s, 10 * s));
  const half = 2.2 * s;
  return Math.max(0, Math.min(1, half + 0.5 - d));
}

const ACCENT: Rgba = [0x3b, 0x5b, 0xdb, 0xff];

export function colorIcon(): Buffer {
  return encodePng(192, 192, (x, y) => {
    const c = checkMark(x, y, 192);
    return [Math.round(ACCENT[0] + (255 - ACCENT[0]) * c), Math.round(ACCENT[1] + (255 - ACCENT[1]) * c), Math.round(ACCENT[2] + (255 - ACCENT[2]) * c), 255];
  });
}

export function outlineIcon(): Buffer {
  return encodePng(32, 32, (x, y) => [255, 255, 255, Math.round(255 * checkMark(x, y, 32))]);
}

if (require.main === module) {
  const dir = path.resolve(__dirname, '../manifest');
  writeFileSync(path.join(dir, 'color.png'), colorIcon());
  writeFileSync(path.join(dir, 'outline.png'), outlineIcon());
  console.log(`wrote ${dir}/color.png (192×192) and ${dir}/outline.png (32×32)`);
}
