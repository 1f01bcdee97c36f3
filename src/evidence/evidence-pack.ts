/**
 * Exporting an evidence pack (format: src/domain/evidence-pack.ts): the window's events are read page by page and
 * written to files in a private temporary directory, with each sealed event's inclusion proof in the checkpoint pinned
 * at the start, so memory stays flat however large the window; the manifest (every file's digest) is signed last and
 * the whole is zipped (`yazl`) as it is sent. Used by `GET /v1/evidence` and `npm run cli -- evidence export`.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ZipFile } from 'yazl';
import { AppError } from '../domain/app-error';
import {
  checkpointFile, MANIFEST_JWS_TYPE, PACK_FILES, PACK_FORMAT, packReadme, policyFile,
  type PackConsistency, type PackGrant, type PackManifest, type PackProof,
} from '../domain/evidence-pack';
import type { AuditService } from '../services/audit-service';
import { approvedRequestOf } from '../services/request-query-service';
import type { PolicyStore } from '../store/policy-store';
import type { RequestStore } from '../store/request-store';
import type { GrantAuthority } from './grants';
import type { TransparencyLog } from './transparency-log';

/** Events (and requests) read per page: bounds memory and the size of one proof query. */
const PAGE = 1000;

export interface BuiltPack {
  manifest: PackManifest;
  /** A file name for the archive, e.g. `countersign-evidence-20261101T000000Z-20261201T000000Z.zip`. */
  fileName: string;
  /** The archive, streamed as it is compressed. Call once. */
  zip(): Readable;
  /** Removes the temporary files (after the archive was sent, or when it will not be). */
  dispose(): Promise<void>;
}

export interface EvidencePackExporter {
  /**
   * Builds the pack of the events in [since, until). Seals first, so events committed before the export are proven.
   * @throws AppError `invalid_window` when `since` is not before `until`.
   */
  build(window: { since: Date; until: Date }): Promise<BuiltPack>;
}

/** A file being written: SHA-256 and length computed on the way, backpressure respected. */
class PackFile {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private readonly stream: WriteStream;

  constructor(readonly absolute: string, readonly path: string) {
    this.stream = createWriteStream(absolute, { flags: 'wx', mode: 0o600 });
  }

  async write(text: string): Promise<void> {
    const chunk = Buffer.from(text);
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (!this.stream.write(chunk)) await new Promise<void>((resolve, reject) => {
      this.stream.once('drain', resolve);
      this.stream.once('error', reject);
    });
  }

  /** Abandons the file (the export failed). */
  destroy(): void {
    this.stream.destroy();
  }

  async close(): Promise<{ path: string; sha256: string; bytes: number }> {
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(resolve);
    });
    return { path: this.path, sha256: this.hash.digest('hex'), bytes: this.bytes };
  }
}

const compact = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

export function createEvidencePackExporter(deps: {
  audit: Pick<AuditService, 'search'>;
  log: Pick<TransparencyLog, 'origin' | 'seal' | 'listCheckpoints' | 'firstCheckpointAbove' | 'inclusionProofs' | 'consistencyProof' | 'keys'>;
  requests: Pick<RequestStore, 'list'>;
  policies: Pick<PolicyStore, 'versions' | 'inForceBetween'>;
  grants: Pick<GrantAuthority, 'issue' | 'jwks' | 'sign'>;
  /** The service's public URL (the grants' issuer). */
  issuer: string;
  clock?: () => Date;
}): EvidencePackExporter {
  const clock = deps.clock ?? (() => new Date());

  return {
    async build({ since, until }) {
      if (!(since.getTime() < until.getTime())) {
        throw new AppError('invalid_window', 'Invalid field `since`: must be before `until`.', { field: 'since' });
      }
      const exportedAt = clock();
      // Seal what has committed so far (harmless when the sealer is running: one of the two waits for the other).
      await deps.log.seal();
      const latest = (await deps.log.listCheckpoints({ limit: 1 })).items[0] ?? null;
      const treeSize = latest?.treeSize ?? 0;

      const dir = await mkdtemp(path.join(tmpdir(), 'countersign-pack-'));
      const written: { path: string; sha256: string; bytes: number }[] = [];
      const opened: PackFile[] = [];
      const open = (p: string) => {
        const f = new PackFile(path.join(dir, p.replace(/\//g, '__')), p);
        opened.push(f);
        return f;
      };
      const writeWhole = async (p: string, text: string) => {
        const f = open(p);
        await f.write(text);
        written.push(await f.close());
      };
      try {
        // Events, and the proof of each sealed one against the pinned checkpoint.
        const events = open(PACK_FILES.events);
        const proofs = open(PACK_FILES.proofs);
        const policyHashes = new Set<string>();
        let count = 0;
        let sealed = 0;
        let minLeaf: number | null = null;
        let cursor: string | undefined;
        do {
          const page = await deps.audit.search({ since, until }, { limit: PAGE, cursor, order: 'asc' });
          const toProve: { seq: string; leafIndex: number }[] = [];
          for (const e of page.items) {
            await events.write(`${JSON.stringify(e)}\n`);
            count++;
            if (e.type === 'policy.matched' && typeof e.data.policyHash === 'string') policyHashes.add(e.data.policyHash);
            if (e.type === 'policy.in_force' && typeof e.data.hash === 'string') policyHashes.add(e.data.hash);
            const leaf = e.leafIndex === null ? null : Number(e.leafIndex);
            if (leaf !== null && leaf < treeSize) {
              toProve.push({ seq: e.seq, leafIndex: leaf });
              minLeaf = Math.min(minLeaf ?? leaf, leaf);
            }
          }
          const hashes = toProve.length ? await deps.log.inclusionProofs(toProve.map((p) => p.leafIndex), treeSize) : [];
          for (let i = 0; i < toProve.length; i++) {
            const line: PackProof = { ...toProve[i], treeSize, proof: hashes[i] };
            await proofs.write(`${JSON.stringify(line)}\n`);
          }
          sealed += toProve.length;
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        written.push(await events.close(), await proofs.close());

        // The checkpoint the proofs are against, the window's first one, and the proof that the first is a prefix.
        let consistency: PackConsistency = { from: treeSize, to: treeSize, proof: [] };
        if (latest) {
          await writeWhole(checkpointFile(latest.treeSize), latest.note);
          const first = minLeaf === null ? null : await deps.log.firstCheckpointAbove(minLeaf);
          if (first && first.treeSize < latest.treeSize) {
            await writeWhole(checkpointFile(first.treeSize), first.note);
            const p = await deps.log.consistencyProof(first.treeSize, latest.treeSize);
            consistency = { from: p.from, to: p.to, proof: p.proof };
          }
        }
        await writeWhole(PACK_FILES.consistency, `${JSON.stringify(consistency, null, 2)}\n`);

        // Keys: the JWKS and the same keys as the checkpoints' verifier keys.
        await writeWhole(PACK_FILES.jwks, `${JSON.stringify(deps.grants.jwks(), null, 2)}\n`);
        await writeWhole(PACK_FILES.logKeys, deps.log.keys().map((k) => `${k.verifierKey}\n`).join(''));

        // Grants of the requests approved in the window, with their use.
        const grants = open(PACK_FILES.grants);
        let grantCount = 0;
        let uses = 0;
        let after: { createdAt: Date; id: string } | undefined;
        for (;;) {
          const page = await deps.requests.list({ status: 'approved', decidedSince: since, decidedUntil: until }, { limit: PAGE, after });
          for (const r of page) {
            policyHashes.add(r.policyHash);
            const approved = approvedRequestOf(r);
            if (!approved) continue;
            const use = r.grantUse ? { usedAt: r.grantUse.usedAt.toISOString(), key: r.grantUse.keyName } : null;
            const line: PackGrant = { requestId: r.id, grant: await deps.grants.issue(approved), use };
            await grants.write(`${JSON.stringify(line)}\n`);
            grantCount++;
            if (use) uses++;
          }
          if (page.length < PAGE) break;
          after = { createdAt: page[page.length - 1].createdAt, id: page[page.length - 1].id };
        }
        written.push(await grants.close());

        // The policy texts in force during the window, and every version a request of the window was matched under.
        const inForce = await deps.policies.inForceBetween(since, until);
        for (const p of inForce) policyHashes.add(p.hash);
        const versions = await deps.policies.versions([...policyHashes]);
        for (const v of versions) await writeWhole(policyFile(v.hash), v.text);
        await writeWhole(PACK_FILES.policiesInForce, `${JSON.stringify(inForce.map((p) => ({ hash: p.hash, at: p.at.toISOString(), source: p.source })), null, 2)}\n`);

        const fileName = `countersign-evidence-${compact(since)}-${compact(until)}.zip`;
        const summary = {
          issuer: deps.issuer,
          origin: deps.log.origin,
          window: { since: since.toISOString(), until: until.toISOString() },
          exportedAt: exportedAt.toISOString(),
          checkpoint: latest ? { treeSize: latest.treeSize, rootHash: latest.rootHash } : null,
          counts: { events: count, sealed, unsealed: count - sealed, grants: grantCount, grantUses: uses, policies: versions.length },
        };
        await writeWhole(PACK_FILES.readme, packReadme(summary, fileName));
        const manifest: PackManifest = { format: PACK_FORMAT, ...summary, files: [...written].sort((a, b) => a.path.localeCompare(b.path)) };
        const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
        const jws = await deps.grants.sign(manifestBytes, MANIFEST_JWS_TYPE);

        let zipped = false;
        return {
          manifest,
          fileName,
          zip() {
            if (zipped) throw new Error('the archive of a pack is streamed once');
            zipped = true;
            const zip = new ZipFile();
            // A fixed time in every entry: the same pack gives the same bytes.
            const options = { mtime: exportedAt, mode: 0o100644 };
            zip.addBuffer(manifestBytes, PACK_FILES.manifest, options);
            zip.addBuffer(Buffer.from(`${jws}\n`), PACK_FILES.manifestJws, options);
            for (const f of manifest.files) zip.addFile(path.join(dir, f.path.replace(/\//g, '__')), f.path, options);
            zip.end();
            return zip.outputStream as Readable;
          },
          dispose: () => rm(dir, { recursive: true, force: true }),
        };
      } catch (err) {
        for (const f of opened) f.destroy();
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
  };
}
