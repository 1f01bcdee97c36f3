/**
 * The transparency log's verification (src/evidence/transparency-log.ts, src/domain/log-verification.ts) told in plain
 * words for the console's auditors: whether the trail is intact, what was checked, and what is wrong if anything is.
 * The technical report stays available at GET /v1/audit/verify and `npm run cli -- verify`.
 */
import type { LogProblemKind } from '../domain/log-verification';
import type { Verification } from '../evidence/transparency-log';

export interface PlainVerification {
  ok: boolean;
  /** One or two sentences a non-engineer understands. */
  summary: string;
  checked: { events: number; checkpoints: number; treeSize: number; unsealed: number; publishedTreeSize: number | null };
  /** What is wrong, in plain words first, then the verifier's own message. */
  problems: string[];
  latestCheckpoint: { treeSize: number; time: string | null; signedBy: string[] } | null;
}

const WORDS: Record<LogProblemKind, string> = {
  malformed_checkpoint: 'a signed checkpoint is damaged',
  unknown_key: 'a checkpoint is signed by a key this service does not trust',
  bad_signature: 'a checkpoint’s signature does not match its content',
  origin_mismatch: 'a checkpoint belongs to another log',
  fork: 'two checkpoints tell different histories (the log was forked)',
  prev_mismatch: 'the chain linking the checkpoints is broken',
  checkpoint_missing: 'a signed checkpoint is missing from the database',
  leaf_missing: 'a sealed event is missing',
  duplicate_leaf: 'an event was sealed twice',
  event_missing: 'a sealed event is missing from the trail',
  leaf_hash_mismatch: 'an event was changed after it was sealed',
  root_mismatch: 'the events no longer match what a signed checkpoint sealed: some were changed, removed or reordered',
  not_sealed: 'an event was left out of the signed checkpoints',
  published_mismatch: 'the database’s checkpoint differs from the copy published outside the database',
  behind_published: 'the database holds fewer events than were already published outside it: events were removed',
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function plainVerification(v: Verification): PlainVerification {
  const checked = { events: v.checked, checkpoints: v.checkpoints, treeSize: v.treeSize, unsealed: v.unsealed, publishedTreeSize: v.published?.treeSize ?? null };
  const latestCheckpoint = v.checkpoint ? { treeSize: v.checkpoint.treeSize, time: v.checkpoint.time, signedBy: v.checkpoint.signedBy } : null;
  if (!v.ok && v.firstProblem) {
    const p = v.firstProblem;
    const where = p.seq ? ` (event ${p.seq})` : p.checkpoint !== null ? ` (checkpoint of ${plural(p.checkpoint, 'event')})` : '';
    return {
      ok: false,
      summary: `The audit trail FAILED verification: ${WORDS[p.problem]}${where}. Treat the trail as tampered with and keep the last evidence pack you exported; ask your security team to compare it with this database.`,
      checked,
      problems: [`${WORDS[p.problem]}${where}`, p.message],
      latestCheckpoint,
    };
  }
  if (v.treeSize === 0) {
    return {
      ok: true,
      summary: v.unsealed
        ? `Nothing is sealed yet: ${plural(v.unsealed, 'event')} will be sealed into the first signed checkpoint within seconds.`
        : 'The audit trail is empty: there is nothing to verify yet.',
      checked, problems: [], latestCheckpoint,
    };
  }
  const published = v.published ? ` It also matches the checkpoint published outside the database (${plural(v.published.treeSize, 'event')}).` : '';
  const pending = v.unsealed ? ` ${plural(v.unsealed, 'newer event is', 'newer events are')} not sealed yet; that happens within seconds.` : '';
  return {
    ok: true,
    summary: `The audit trail is intact: all ${plural(v.checked, 'recorded event')} match the ${plural(v.checkpoints, 'signed checkpoint')}, and none was changed, removed or reordered.${published}${pending}`,
    checked, problems: [], latestCheckpoint,
  };
}
