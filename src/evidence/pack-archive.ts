/**
 * Reading an evidence pack's ZIP archive (`yauzl`) into its files by path, for the offline verifier. Entries are
 * bounded (count and total size) so a crafted archive cannot exhaust memory, and paths must be plain relative names.
 */
import { fromBuffer, type Entry, type ZipFile } from 'yauzl';

/** A pack of a busy year stays well below this; a bigger file is refused rather than read into memory. */
const MAX_TOTAL_BYTES = 2 * 1024 ** 3;
const MAX_ENTRIES = 100_000;

export class PackArchiveError extends Error {}

export async function readPackArchive(zip: Buffer): Promise<Map<string, Buffer>> {
  const archive = await new Promise<ZipFile>((resolve, reject) =>
    fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true, strictFileNames: true }, (err, z) => (err ? reject(new PackArchiveError(`not a ZIP archive: ${err.message}`)) : resolve(z))),
  );
  const files = new Map<string, Buffer>();
  let total = 0;
  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      archive.close();
      reject(new PackArchiveError(message));
    };
    archive.on('error', (err: Error) => fail(`the archive is damaged: ${err.message}`));
    archive.on('end', () => resolve(files));
    archive.on('entry', (entry: Entry) => {
      if (entry.fileName.endsWith('/')) return archive.readEntry();
      if (files.size >= MAX_ENTRIES) return fail(`more than ${MAX_ENTRIES} entries`);
      if (entry.fileName.startsWith('/') || entry.fileName.split('/').includes('..')) return fail(`entry ${entry.fileName} is not a plain relative path`);
      if (files.has(entry.fileName)) return fail(`entry ${entry.fileName} appears twice`);
      total += entry.uncompressedSize;
      if (total > MAX_TOTAL_BYTES) return fail('the archive expands beyond 2 GiB');
      archive.openReadStream(entry, (err, stream) => {
        if (err) return fail(`cannot read ${entry.fileName}: ${err.message}`);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', (e: Error) => fail(`cannot read ${entry.fileName}: ${e.message}`));
        stream.on('end', () => {
          files.set(entry.fileName, Buffer.concat(chunks));
          archive.readEntry();
        });
      });
    });
    archive.readEntry();
  });
}
