/**
 * The audit trail's hash chain. The database assigns `seq`, `prev_hash` and `hash` in a trigger (so no writer can skip
 * it); this module is the independent check: an auditor can re-run {@link chainHash} over an NDJSON export.
 *
 *   hash = sha256_hex(prev_hash + "|" + seq + "|" + payload)
 *
 * where `payload` is the event's canonical JSON exactly as stored. Rows are spread over {@link AUDIT_CHAINS} chains
 * (by request) so that appends for different requests do not queue behind a single lock; each chain starts at
 * {@link GENESIS_HASH} and each row stores the hash of the previous row of its chain.
 */
import { createHash } from 'node:crypto';

export const AUDIT_CHAINS = 16;
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level and no whitespace: the same value always gives the same bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as object).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function chainHash(prevHash: string, seq: bigint | number | string, payload: string): string {
  return createHash('sha256').update(`${prevHash}|${seq}|${payload}`, 'utf8').digest('hex');
}

/** Requests map to a fixed chain so that one request's trail reads in one chain. */
export function chainFor(requestId: string | null | undefined): number {
  if (!requestId) return 0;
  return parseInt(requestId.replace(/-/g, '').slice(-4), 16) % AUDIT_CHAINS;
}

export interface ChainRow {
  seq: bigint | string;
  chain: number;
  payload: string;
  prevHash: string;
  hash: string;
}

export interface ChainBreak {
  seq: string;
  chain: number;
  problem: 'hash_mismatch' | 'link_broken' | 'head_mismatch';
  expected: string;
  found: string;
}

/**
 * Streaming verifier: feed rows in ascending `seq`, then call `finish` with each chain head's recorded last hash
 * (which catches rows deleted from the end of a chain).
 */
export function createChainVerifier() {
  const last = new Map<number, string>();
  let checked = 0;
  return {
    get checked() {
      return checked;
    },
    /** Returns the first problem with this row, or undefined. */
    push(row: ChainRow): ChainBreak | undefined {
      checked++;
      const expectedPrev = last.get(row.chain) ?? GENESIS_HASH;
      const seq = String(row.seq);
      if (row.prevHash !== expectedPrev) {
        return { seq, chain: row.chain, problem: 'link_broken', expected: expectedPrev, found: row.prevHash };
      }
      const recomputed = chainHash(row.prevHash, seq, row.payload);
      if (recomputed !== row.hash) {
        return { seq, chain: row.chain, problem: 'hash_mismatch', expected: recomputed, found: row.hash };
      }
      last.set(row.chain, row.hash);
      return undefined;
    },
    finish(heads: { chain: number; lastHash: string; lastSeq: bigint | string }[]): ChainBreak | undefined {
      for (const h of heads) {
        const mine = last.get(h.chain) ?? GENESIS_HASH;
        if (mine !== h.lastHash) {
          return { seq: String(h.lastSeq), chain: h.chain, problem: 'head_mismatch', expected: h.lastHash, found: mine };
        }
      }
      return undefined;
    },
  };
}
