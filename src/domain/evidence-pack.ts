/**
 * The evidence pack's format: one archive an auditor takes away for a time window, holding the audit events, the
 * signed checkpoint they are proven against with an inclusion proof for each, a consistency proof over the window,
 * the public keys, the approval grants and their uses, the policy texts in force, and a manifest (every file's
 * SHA-256) signed with the service key. What the files are and what the README inside says live here, beside the
 * types the exporter writes and the verifier reads.
 */

export const PACK_FORMAT = 'countersign-evidence-pack/1';
/** JWS `typ` of the signed manifest. */
export const MANIFEST_JWS_TYPE = 'countersign-evidence+jws';

/** The files of a pack (policy texts are `policies/<sha256>.yaml`, checkpoints `checkpoints/<tree size>.checkpoint`). */
export const PACK_FILES = {
  readme: 'README.md',
  manifest: 'manifest.json',
  manifestJws: 'manifest.jws',
  events: 'events.ndjson',
  proofs: 'proofs.ndjson',
  consistency: 'consistency.json',
  jwks: 'keys/jwks.json',
  logKeys: 'keys/log-keys.txt',
  grants: 'grants.ndjson',
  policiesInForce: 'policies/in-force.json',
} as const;

export const policyFile = (hash: string) => `policies/${hash}.yaml`;
export const checkpointFile = (treeSize: number) => `checkpoints/${treeSize}.checkpoint`;

export interface PackManifest {
  format: typeof PACK_FORMAT;
  /** The service that made the pack (its public URL: the grants' issuer). */
  issuer: string;
  /** The transparency log's origin (first line of its checkpoints). */
  origin: string;
  window: { since: string; until: string };
  exportedAt: string;
  /** The checkpoint every inclusion proof is against; null while the log is empty. */
  checkpoint: { treeSize: number; rootHash: string } | null;
  counts: { events: number; sealed: number; unsealed: number; grants: number; grantUses: number; policies: number };
  /** Every other file of the pack, with its SHA-256 (hex) and length. */
  files: { path: string; sha256: string; bytes: number }[];
}

/** One line of `proofs.ndjson`: the event's place in the log and its RFC 9162 inclusion proof (base64 hashes). */
export interface PackProof {
  seq: string;
  leafIndex: number;
  treeSize: number;
  proof: string[];
}

/** `consistency.json`: the log at the window's first checkpoint is a prefix of the log at the pack's checkpoint. */
export interface PackConsistency {
  from: number;
  to: number;
  proof: string[];
}

/** One line of `grants.ndjson`: the grant of a request approved in the window, and its use. */
export interface PackGrant {
  requestId: string;
  grant: string;
  use: { usedAt: string; key: string } | null;
}

/** The README inside a pack: what it holds and how to check it without the service. */
export function packReadme(m: Pick<PackManifest, 'issuer' | 'origin' | 'window' | 'exportedAt' | 'checkpoint' | 'counts'>, fileName: string): string {
  return `# Countersign evidence pack

Service: ${m.issuer}
Audit log: ${m.origin}
Window: ${m.window.since} to ${m.window.until} (exported ${m.exportedAt})
Events: ${m.counts.events} (${m.counts.sealed} proven in the signed checkpoint of size ${m.checkpoint?.treeSize ?? 0}, ${m.counts.unsealed} not sealed yet)
Grants: ${m.counts.grants} (${m.counts.grantUses} used); policy versions: ${m.counts.policies}

## What is inside

- \`manifest.json\`: every file with its SHA-256; \`manifest.jws\` is the same bytes signed (EdDSA) with the service key.
- \`events.ndjson\`: the audit events of the window, one per line, as \`GET /v1/audit?format=ndjson\` exports them.
  Each \`payload\` is the exact leaf of the transparency log (leaf hash = SHA-256(0x00 || payload), RFC 9162).
- \`proofs.ndjson\`: for each sealed event, its leaf index and inclusion proof in the checkpoint under \`checkpoints/\`.
- \`checkpoints/\`: signed checkpoints (C2SP tlog-checkpoint signed notes): the one the proofs are against, and the
  first one of the window; \`consistency.json\` proves the later log extends the earlier one (nothing was rewritten).
- \`keys/jwks.json\`: the service's public keys (grants, callbacks, this manifest); \`keys/log-keys.txt\`: the same keys as
  signed-note verifier keys for the checkpoints.
- \`grants.ndjson\`: the approval grant (compact JWS) of every request approved in the window, and when it was used.
- \`policies/\`: the policy texts in force during the window, named by their SHA-256 (the \`policyHash\` each request
  records); \`in-force.json\` says from when each was in force.

## How to verify it

Get the service's public keys yourself, not from this pack: \`curl ${m.issuer}/.well-known/jwks.json > jwks.json\`
(or from whoever operates the service). Then, offline, from a checkout of Countersign:

    npm run cli -- verify pack ${fileName} --jwks jwks.json

It checks the manifest's signature and every file's digest, each checkpoint's signature and their consistency, each
event's inclusion proof, each grant's signature and that the events record its approval and use, and each policy
text's hash; it names the first thing that does not match. Without \`--jwks\` it checks against the keys inside the
pack and says so: compare their key ids with the ones the service publishes.
`;
}
