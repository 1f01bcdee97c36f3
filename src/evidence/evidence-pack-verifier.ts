/**
 * Verifying an evidence pack offline (format: src/domain/evidence-pack.ts), from its files alone and the keys the
 * auditor trusts: no service, no database, no network. One trust root: the service's JWKS (the checkpoints' signed-note
 * keys are the same Ed25519 keys under the log's origin). Checks run in order and stop at the first failure, which is
 * named with what was expected and found.
 */
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import { compactVerify, decodeJwt, jwtVerify, type JWK } from 'jose';
import { auditPayload } from '../domain/audit-event';
import { checkpointFile, MANIFEST_JWS_TYPE, PACK_FILES, PACK_FORMAT, policyFile, type PackConsistency, type PackGrant, type PackManifest, type PackProof } from '../domain/evidence-pack';
import { GRANT_TYPE, type GrantClaims } from '../domain/grant';
import { checkCheckpoints, type VerifiedCheckpoint } from '../domain/log-verification';
import { leafHash, verifyConsistency, verifyInclusion } from '../domain/merkle';
import { noteKeyId, type NoteVerifier } from '../domain/signed-note';
import type { Jwks } from './grants';

export interface PackCheck {
  check: string;
  ok: boolean;
  detail: string;
}

export interface PackVerification {
  ok: boolean;
  /** `given`: checked against keys the auditor supplied; `pack`: against the keys inside the pack (compare them). */
  trust: 'given' | 'pack';
  /** Key ids (JWK thumbprints) the signatures were checked against. */
  keyIds: string[];
  manifest: PackManifest | null;
  checks: PackCheck[];
  /** The first failure, in words; null when every check passed. */
  problem: string | null;
}

class PackProblem extends Error {
  constructor(readonly check: string, message: string) {
    super(message);
  }
}

function sha256Hex(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

function lines(b: Buffer | undefined): string[] {
  return (b?.toString('utf8') ?? '').split('\n').filter((l) => l.trim() !== '');
}

function parseJson<T>(text: string, check: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new PackProblem(check, `${what} is not JSON`);
  }
}

/** The exported event line, as `GET /v1/audit?format=ndjson` writes it. */
interface EventLine {
  seq: string;
  requestId: string | null;
  type: string;
  actor: { key: string; ids: string[]; label?: string; via?: string };
  channel: string;
  at: string;
  data: Record<string, unknown>;
  payload: string;
}

/**
 * Checks a pack. `files` are its entries by path; `trusted` is the JWKS the auditor obtained from the service
 * (without it the pack's own keys are used, and the result says so).
 */
export async function verifyEvidencePack(files: ReadonlyMap<string, Buffer>, trusted?: Jwks): Promise<PackVerification> {
  const checks: PackCheck[] = [];
  const pass = (check: string, detail: string) => checks.push({ check, ok: true, detail });
  let manifest: PackManifest | null = null;
  let keyIds: string[] = [];
  const trust: PackVerification['trust'] = trusted ? 'given' : 'pack';
  try {
    // 1. The manifest is what the service signed.
    const manifestBytes = files.get(PACK_FILES.manifest);
    const jws = files.get(PACK_FILES.manifestJws)?.toString('utf8').trim();
    if (!manifestBytes || !jws) throw new PackProblem('manifest', 'the pack has no manifest.json or manifest.jws');
    const jwksText = files.get(PACK_FILES.jwks)?.toString('utf8');
    const jwks: Jwks = trusted ?? (jwksText ? parseJson<Jwks>(jwksText, 'manifest', PACK_FILES.jwks) : { keys: [] });
    keyIds = jwks.keys.map((k) => k.kid ?? '(no kid)');
    const keyFor = (kid: string | undefined, check: string) => {
      const jwk = jwks.keys.find((k) => k.kid === kid && k.kty === 'OKP' && k.crv === 'Ed25519');
      if (!jwk) throw new PackProblem(check, `signed by key ${kid ?? '(none)'}, which is not among the trusted keys (${keyIds.join(', ') || 'none'})`);
      return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    };
    let signed;
    try {
      signed = await compactVerify(jws, async (h) => keyFor(h.kid, 'manifest'), { algorithms: ['EdDSA'] });
    } catch (err) {
      if (err instanceof PackProblem) throw err;
      throw new PackProblem('manifest', 'manifest.jws does not verify: the manifest was not signed by this service, or was changed');
    }
    if (signed.protectedHeader.typ !== MANIFEST_JWS_TYPE) throw new PackProblem('manifest', `manifest.jws is a ${signed.protectedHeader.typ ?? 'untyped'} JWS, not a manifest`);
    if (!Buffer.from(signed.payload).equals(manifestBytes)) throw new PackProblem('manifest', 'manifest.json differs from the signed manifest in manifest.jws');
    manifest = parseJson<PackManifest>(manifestBytes.toString('utf8'), 'manifest', PACK_FILES.manifest);
    if (manifest.format !== PACK_FORMAT) throw new PackProblem('manifest', `unknown pack format ${String(manifest.format)}`);
    pass('manifest', `signed by ${signed.protectedHeader.kid} (${trust === 'given' ? 'a key you supplied' : 'a key inside the pack: compare it with the service\'s published keys'})`);

    // 2. Every file is the one the manifest names, and nothing was added.
    for (const f of manifest.files) {
      const body = files.get(f.path);
      if (!body) throw new PackProblem('files', `${f.path} is listed in the manifest but missing`);
      if (body.length !== f.bytes || sha256Hex(body) !== f.sha256) throw new PackProblem('files', `${f.path} was changed: its SHA-256 is ${sha256Hex(body)}, the manifest says ${f.sha256}`);
    }
    const listed = new Set([PACK_FILES.manifest, PACK_FILES.manifestJws, ...manifest.files.map((f) => f.path)]);
    const extra = [...files.keys()].filter((p) => !listed.has(p));
    if (extra.length) throw new PackProblem('files', `files not covered by the manifest: ${extra.join(', ')}`);
    pass('files', `${manifest.files.length} files match their SHA-256 in the manifest`);

    // 3. Checkpoints, with the same keys as signed-note verifiers under the log's origin.
    const origin = manifest.origin;
    const verifiers: NoteVerifier[] = jwks.keys
      .filter((k): k is JWK & { x: string } => k.kty === 'OKP' && k.crv === 'Ed25519' && typeof k.x === 'string')
      .map((k) => {
        const raw = Buffer.from(k.x, 'base64url');
        return { name: origin, keyId: noteKeyId(origin, raw), publicKey: raw };
      });
    const notes = [...files.entries()].filter(([p]) => p.startsWith('checkpoints/')).map(([, b]) => b.toString('utf8'));
    const opened = checkCheckpoints(notes, verifiers, { complete: false, origin });
    if (opened.problem) throw new PackProblem('checkpoints', opened.problem.message);
    const bySize = new Map<number, VerifiedCheckpoint>(opened.checkpoints.map((c) => [c.treeSize, c]));
    const pinned = manifest.checkpoint ? bySize.get(manifest.checkpoint.treeSize) : undefined;
    if (manifest.checkpoint) {
      if (!pinned) throw new PackProblem('checkpoints', `the checkpoint of size ${manifest.checkpoint.treeSize} is missing`);
      if (pinned.rootHash.toString('base64') !== manifest.checkpoint.rootHash) throw new PackProblem('checkpoints', `checkpoint ${pinned.treeSize} has root ${pinned.rootHash.toString('base64')}, the manifest says ${manifest.checkpoint.rootHash}`);
    }
    const consistency = parseJson<PackConsistency>(files.get(PACK_FILES.consistency)?.toString('utf8') ?? '{}', 'consistency', PACK_FILES.consistency);
    if (consistency.from < consistency.to) {
      const a = bySize.get(consistency.from);
      const b = bySize.get(consistency.to);
      if (!a || !b) throw new PackProblem('consistency', `${checkpointFile(a ? consistency.to : consistency.from)} is missing`);
      if (!verifyConsistency(a.treeSize, b.treeSize, a.rootHash, b.rootHash, consistency.proof.map((h) => Buffer.from(h, 'base64')))) {
        throw new PackProblem('consistency', `the log of size ${b.treeSize} does not extend the log of size ${a.treeSize}: history was rewritten`);
      }
    }
    pass('checkpoints', `${opened.checkpoints.length} signed checkpoint(s) of ${origin}${consistency.from < consistency.to ? `; size ${consistency.to} extends size ${consistency.from}` : ''}`);

    // 4. Every event: its fields are its signed payload's, and a sealed one is in the checkpoint.
    const proofs = new Map<string, PackProof>();
    for (const l of lines(files.get(PACK_FILES.proofs))) {
      const p = parseJson<PackProof>(l, 'events', 'a line of proofs.ndjson');
      proofs.set(p.seq, p);
    }
    const events: EventLine[] = [];
    let sealed = 0;
    const since = Date.parse(manifest.window.since);
    const until = Date.parse(manifest.window.until);
    for (const l of lines(files.get(PACK_FILES.events))) {
      const e = parseJson<EventLine>(l, 'events', 'a line of events.ndjson');
      const fromPayload = auditPayload({ type: e.type, requestId: e.requestId, actor: e.actor, channel: e.channel, at: new Date(e.at), data: e.data });
      if (fromPayload !== e.payload) throw new PackProblem('events', `event ${e.seq}: its fields differ from its signed payload (the line was edited)`);
      const at = Date.parse(e.at);
      if (!(at >= since && at < until)) throw new PackProblem('events', `event ${e.seq} at ${e.at} is outside the window`);
      const p = proofs.get(e.seq);
      if (p) {
        if (!pinned || p.treeSize !== pinned.treeSize) throw new PackProblem('events', `event ${e.seq}: its proof is against a checkpoint of size ${p.treeSize} the pack does not pin`);
        if (!verifyInclusion(leafHash(e.payload), p.leafIndex, p.treeSize, p.proof.map((h) => Buffer.from(h, 'base64')), pinned.rootHash)) {
          throw new PackProblem('events', `event ${e.seq} (leaf ${p.leafIndex}) is not in the signed checkpoint of size ${p.treeSize}: it was changed or never logged`);
        }
        sealed++;
        proofs.delete(e.seq);
      }
      events.push(e);
    }
    if (proofs.size) throw new PackProblem('events', `proofs for events the pack does not hold: ${[...proofs.keys()].slice(0, 5).join(', ')}`);
    if (events.length !== manifest.counts.events || sealed !== manifest.counts.sealed) {
      throw new PackProblem('events', `the pack holds ${events.length} events (${sealed} proven); the manifest says ${manifest.counts.events} (${manifest.counts.sealed})`);
    }
    pass('events', `${events.length} events; ${sealed} proven in the signed log${events.length - sealed ? `, ${events.length - sealed} committed after the last checkpoint (not provable yet: export again later)` : ''}`);

    // 5. Grants: signed by the service, for a request whose approval (and use) the events record.
    const ofRequest = (id: string, type: string) => events.filter((e) => e.requestId === id && e.type === type);
    let grants = 0;
    for (const l of lines(files.get(PACK_FILES.grants))) {
      const g = parseJson<PackGrant>(l, 'grants', 'a line of grants.ndjson');
      let claims: GrantClaims;
      try {
        const iat = decodeJwt(g.grant).iat ?? 0;
        const { payload } = await jwtVerify(g.grant, async (h) => keyFor(h.kid, 'grants'), {
          algorithms: ['EdDSA'], typ: GRANT_TYPE, issuer: manifest.issuer, currentDate: new Date(iat * 1000),
        });
        claims = payload as unknown as GrantClaims;
      } catch (err) {
        if (err instanceof PackProblem) throw err;
        throw new PackProblem('grants', `the grant of request ${g.requestId} does not verify: ${(err as Error).message}`);
      }
      if (claims.jti !== g.requestId) throw new PackProblem('grants', `the grant listed for request ${g.requestId} is the grant of ${claims.jti}`);
      if (!ofRequest(g.requestId, 'request.decided').some((e) => e.data.status === 'approved')) {
        throw new PackProblem('grants', `request ${g.requestId} has a grant, but the events record no approval of it`);
      }
      if (ofRequest(g.requestId, 'request.submitted').length) {
        // The whole request is in the window: its grant names exactly the people whose approving votes the trail holds.
        const voters = ofRequest(g.requestId, 'vote.cast').filter((e) => e.data.decision === 'approve').map((e) => String(e.data.person)).sort();
        const named = claims.cs_approvers.filter((a) => a !== 'policy').sort();
        if (voters.join('\n') !== named.join('\n')) throw new PackProblem('grants', `the grant of request ${g.requestId} names approvers ${named.join(', ') || '(policy)'}, the trail records ${voters.join(', ') || 'none'}`);
      }
      if (g.use && Date.parse(g.use.usedAt) < until && !ofRequest(g.requestId, 'grant.used').length) {
        throw new PackProblem('grants', `the grant of request ${g.requestId} was used at ${g.use.usedAt}, but the events do not record it`);
      }
      grants++;
    }
    if (grants !== manifest.counts.grants) throw new PackProblem('grants', `the pack holds ${grants} grants; the manifest says ${manifest.counts.grants}`);
    pass('grants', `${grants} grant(s) signed by the service, each for an approval the trail records`);

    // 6. Policy texts are the versions the requests name.
    let policies = 0;
    for (const [p, body] of files) {
      const m = /^policies\/([0-9a-f]{64})\.yaml$/.exec(p);
      if (!m) continue;
      if (sha256Hex(body) !== m[1]) throw new PackProblem('policies', `${p} does not hash to its name: the policy text was changed`);
      policies++;
    }
    for (const e of events) {
      const hash = e.type === 'policy.matched' ? e.data.policyHash : e.type === 'policy.in_force' ? e.data.hash : undefined;
      if (typeof hash === 'string' && !files.has(policyFile(hash))) throw new PackProblem('policies', `event ${e.seq} names policy ${hash}, whose text the pack lacks`);
    }
    pass('policies', `${policies} policy version(s), each matching its SHA-256`);
  } catch (err) {
    if (!(err instanceof PackProblem)) throw err;
    checks.push({ check: err.check, ok: false, detail: err.message });
    return { ok: false, trust, keyIds, manifest, checks, problem: err.message };
  }
  return { ok: true, trust, keyIds, manifest, checks, problem: null };
}
