/**
 * The transparency log's storage: leaves (leaf position -> audit event, leaf hash), stored subtree hashes, signed
 * checkpoints and their publication records. Every table here is append-only; the runtime role may only INSERT and
 * SELECT them. Sealing runs in one transaction under an advisory lock (one sealer at a time, crash-safe: a batch's
 * leaves, hashes and checkpoint commit together or not at all); verification reads in one REPEATABLE READ, READ ONLY
 * snapshot so rows and checkpoints always agree.
 */
import type { NodeId, StoredNode } from '../domain/merkle';
import { runQuery, withTransaction, type Sql, type SqlPool } from './database';

/** Advisory lock key the sealer holds for its transaction ("cs-seal"). */
export const SEAL_LOCK_KEY = 0x63735f73;

/** A checkpoint as stored. Sizes are plain numbers: a log would need 2^53 leaves to overflow them. */
export interface StoredCheckpoint {
  treeSize: number;
  rootHash: Buffer;
  origin: string;
  /** The signed note, exactly as published. */
  note: string;
  keyId: string;
  prevHash: Buffer | null;
  /** Every transaction below this id had finished when the checkpoint was sealed (pg_snapshot_xmin). */
  horizon: string;
  createdAt: Date;
}

export interface NewCheckpoint {
  treeSize: number;
  rootHash: Buffer;
  origin: string;
  note: string;
  keyId: string;
  prevHash: Buffer | null;
  horizon: string;
}

/** An audit event the log does not hold yet. */
export interface UnsealedEvent {
  seq: string;
  payload: string;
}

export interface LeafRow {
  leafIndex: number;
  seq: string;
  leafHash: Buffer;
}

/** Operations available inside the sealer's transaction (one connection, the advisory lock held). */
export interface SealTransaction {
  /**
   * pg_snapshot_xmin taken before anything was read: every transaction below it had finished, so all of their
   * committed events are visible to this transaction's reads.
   */
  readonly horizon: string;
  /** The latest checkpoint, or null while the log is empty. */
  latestCheckpoint(): Promise<StoredCheckpoint | null>;
  /**
   * Committed events without a leaf whose inserting transaction id is at least `sinceTxid`, in `seq` order. Events of
   * older transactions were visible to the seal that recorded `sinceTxid` as its horizon, so they are in the log.
   */
  unsealedEvents(sinceTxid: string, limit: number): Promise<UnsealedEvent[]>;
  /** Stored hashes by (level, index): leaf hashes at level 0, full subtrees at the stored levels. */
  storedHashes(ids: readonly NodeId[]): Promise<Map<string, Buffer>>;
  /** Writes a batch: its leaves, the subtree hashes it completed, and the checkpoint that signs the new tree. */
  append(batch: { leaves: LeafRow[]; nodes: StoredNode[]; checkpoint: NewCheckpoint }): Promise<void>;
}

/** Reads available inside verification's snapshot. */
export interface LogSnapshot {
  /** Up to `limit` checkpoints with a tree size above `afterSize`, by tree size. */
  checkpoints(afterSize: number, limit: number): Promise<StoredCheckpoint[]>;
  latestCheckpoint(): Promise<StoredCheckpoint | null>;
  checkpointAt(treeSize: number): Promise<StoredCheckpoint | null>;
  /** Up to `limit` leaves from `fromIndex` on, with their event's payload (null when the event row is gone). */
  leaves(fromIndex: number, limit: number): Promise<{ leafIndex: number; seq: string; leafHash: Buffer; payload: string | null }[]>;
  /**
   * Events without a leaf: how many, and the first one whose transaction finished before `horizon` (it should have
   * been sealed by the checkpoint that recorded that horizon).
   */
  unsealed(horizon: string): Promise<{ pending: number; overdue: { seq: string } | null }>;
}

/** TSDoc'd port of the transparency log's storage; the sealer and the log service receive it. */
export interface LogStore {
  /**
   * Runs `fn` in one transaction holding the sealer's advisory lock; answers `{ locked: false }` at once when another
   * sealer holds it. Anything `fn` throws rolls the whole batch back.
   */
  withSealLock<T>(fn: (tx: SealTransaction) => Promise<T>): Promise<{ locked: false } | { locked: true; result: T }>;
  /** Runs `fn` in one REPEATABLE READ, READ ONLY transaction: a consistent snapshot of events, leaves and checkpoints. */
  withSnapshot<T>(fn: (snap: LogSnapshot) => Promise<T>): Promise<T>;
  latestCheckpoint(): Promise<StoredCheckpoint | null>;
  checkpointAt(treeSize: number): Promise<StoredCheckpoint | null>;
  /** Newest first, sizes below `beforeSize` when given. */
  listCheckpoints(page: { limit: number; beforeSize?: number }): Promise<StoredCheckpoint[]>;
  /** Where an event sits in the log: its leaf, `unsealed` while the sealer has not reached it, null for no such event. */
  leafOf(seq: string): Promise<LeafRow | 'unsealed' | null>;
  storedHashes(ids: readonly NodeId[]): Promise<Map<string, Buffer>>;
  /**
   * Seconds since the oldest audit event after the last sealed one was committed (0 when everything is sealed): how far
   * the transparency log lags the trail. Reads two index ends, so it is cheap enough for every metrics scrape.
   */
  sealLagSeconds(): Promise<number>;
  /** Checkpoints above `afterSize` not yet recorded as published to `sink`, oldest first. */
  unpublished(sink: string, afterSize: number, limit: number): Promise<StoredCheckpoint[]>;
  markPublished(treeSize: number, sink: string): Promise<void>;
}

interface CheckpointRow {
  tree_size: string;
  root_hash: Buffer;
  origin: string;
  note: string;
  key_id: string;
  prev_hash: Buffer | null;
  horizon: string;
  created_at: Date;
}

// Selected from `audit_checkpoint c`. ORDER BY must name c.tree_size: the bare name is the text alias below, which
// would sort '6' after '24'.
const CHECKPOINT_COLUMNS = 'c.tree_size::text AS tree_size, c.root_hash, c.origin, c.note, c.key_id, c.prev_hash, c.horizon::text AS horizon, c.created_at';

function toCheckpoint(r: CheckpointRow): StoredCheckpoint {
  return {
    treeSize: Number(r.tree_size),
    rootHash: r.root_hash,
    origin: r.origin,
    note: r.note,
    keyId: r.key_id,
    prevHash: r.prev_hash,
    horizon: r.horizon,
    createdAt: r.created_at,
  };
}

export const nodeKey = (level: number, index: number) => `${level}/${index}`;

async function latest(sql: Sql): Promise<StoredCheckpoint | null> {
  const { rows } = await runQuery<CheckpointRow>(sql, { name: 'cs_log_latest', text: `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoint c ORDER BY c.tree_size DESC LIMIT 1` });
  return rows[0] ? toCheckpoint(rows[0]) : null;
}

async function checkpointAt(sql: Sql, treeSize: number): Promise<StoredCheckpoint | null> {
  const { rows } = await runQuery<CheckpointRow>(sql, { name: 'cs_log_checkpoint_at', text: `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoint c WHERE c.tree_size = $1::bigint`, values: [String(treeSize)] });
  return rows[0] ? toCheckpoint(rows[0]) : null;
}

async function readStoredHashes(sql: Sql, ids: readonly NodeId[]): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const leaves = ids.filter((id) => id.level === 0).map((id) => String(id.index));
  const nodes = ids.filter((id) => id.level > 0);
  if (leaves.length) {
    const { rows } = await runQuery<{ leaf_index: string; leaf_hash: Buffer }>(
      sql,
      { name: 'cs_log_leaf_hashes', text: 'SELECT leaf_index::text AS leaf_index, leaf_hash FROM audit_leaf WHERE leaf_index = ANY($1::bigint[])', values: [leaves] },
    );
    for (const r of rows) out.set(nodeKey(0, Number(r.leaf_index)), r.leaf_hash);
  }
  if (nodes.length) {
    const { rows } = await runQuery<{ level: number; idx: string; hash: Buffer }>(sql, {
      name: 'cs_log_node_hashes',
      text: 'SELECT n.level, n.idx::text AS idx, n.hash FROM audit_node n JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx',
      values: [nodes.map((n) => n.level), nodes.map((n) => String(n.index))],
    });
    for (const r of rows) out.set(nodeKey(r.level, Number(r.idx)), r.hash);
  }
  return out;
}

export function createLogStore(deps: { pool: SqlPool }): LogStore {
  const { pool } = deps;

  return {
    async withSealLock(fn) {
      return withTransaction(pool, async (sql) => {
        // The horizon comes from a snapshot taken before any event is read: every transaction below it had finished,
        // so the reads that follow (fresh READ COMMITTED snapshots) see all of their events.
        const { rows } = await runQuery<{ locked: boolean; horizon: string }>(sql, {
          name: 'cs_log_seal_lock',
          text: 'SELECT pg_try_advisory_xact_lock($1) AS locked, pg_snapshot_xmin(pg_current_snapshot())::text::bigint::text AS horizon',
          values: [SEAL_LOCK_KEY],
        });
        if (!rows[0].locked) return { locked: false } as const;
        const tx: SealTransaction = {
          horizon: rows[0].horizon,
          latestCheckpoint: () => latest(sql),
          async unsealedEvents(sinceTxid, limit) {
            // The candidates are the recent events, at or above the horizon: walk the txid index from there and probe
            // each in audit_leaf's seq index, whatever the statistics say (fresh tables have none, and a plan that
            // hashes all of audit_leaf or walks all of audit_event costs more with every seal as the log grows).
            // These settings last until the end of this transaction. Leaves are taken in (txid, seq) order.
            await runQuery(sql, 'SET LOCAL enable_hashjoin = off');
            await runQuery(sql, 'SET LOCAL enable_mergejoin = off');
            await runQuery(sql, 'SET LOCAL enable_seqscan = off');
            // Unnamed on purpose: a cached generic plan would not know where the horizon lies.
            const res = await runQuery<UnsealedEvent>(sql, {
              text: `SELECT e.seq::text AS seq, e.payload FROM audit_event e
                     WHERE e.txid >= $1::bigint AND NOT EXISTS (SELECT 1 FROM audit_leaf l WHERE l.seq = e.seq)
                     ORDER BY e.txid, e.seq LIMIT $2`,
              values: [sinceTxid, limit],
            });
            return res.rows;
          },
          storedHashes: (ids) => readStoredHashes(sql, ids),
          async append({ leaves, nodes, checkpoint: c }) {
            if (leaves.length) {
              await runQuery(sql, {
                name: 'cs_log_insert_leaves',
                text: `INSERT INTO audit_leaf (leaf_index, seq, leaf_hash)
                       SELECT i, s, decode(h, 'hex') FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS b(i, s, h)`,
                values: [leaves.map((l) => String(l.leafIndex)), leaves.map((l) => l.seq), leaves.map((l) => l.leafHash.toString('hex'))],
              });
            }
            if (nodes.length) {
              await runQuery(sql, {
                name: 'cs_log_insert_nodes',
                text: `INSERT INTO audit_node (level, idx, hash)
                       SELECT l, i, decode(h, 'hex') FROM unnest($1::smallint[], $2::bigint[], $3::text[]) AS b(l, i, h)`,
                values: [nodes.map((n) => n.level), nodes.map((n) => String(n.index)), nodes.map((n) => n.hash.toString('hex'))],
              });
            }
            await runQuery(sql, {
              name: 'cs_log_insert_checkpoint',
              text: `INSERT INTO audit_checkpoint (tree_size, root_hash, origin, note, key_id, prev_hash, horizon)
                     VALUES ($1::bigint, decode($2, 'hex'), $3, $4, $5, decode($6, 'hex'), $7::bigint)`,
              values: [String(c.treeSize), c.rootHash.toString('hex'), c.origin, c.note, c.keyId, c.prevHash?.toString('hex') ?? null, c.horizon],
            });
          },
        };
        return { locked: true, result: await fn(tx) } as const;
      });
    },

    async withSnapshot(fn) {
      const client = await pool.connect();
      try {
        await runQuery(client, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const snap: LogSnapshot = {
          async checkpoints(afterSize, limit) {
            const { rows } = await runQuery<CheckpointRow>(client, {
              name: 'cs_log_verify_checkpoints',
              text: `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoint c WHERE c.tree_size > $1::bigint ORDER BY c.tree_size LIMIT $2`,
              values: [String(afterSize), limit],
            });
            return rows.map(toCheckpoint);
          },
          latestCheckpoint: () => latest(client),
          checkpointAt: (treeSize) => checkpointAt(client, treeSize),
          async leaves(fromIndex, limit) {
            const { rows } = await runQuery<{ leaf_index: string; seq: string; leaf_hash: Buffer; payload: string | null }>(client, {
              name: 'cs_log_verify_leaves',
              text: `SELECT l.leaf_index::text AS leaf_index, l.seq::text AS seq, l.leaf_hash, e.payload
                     FROM audit_leaf l LEFT JOIN audit_event e ON e.seq = l.seq
                     WHERE l.leaf_index >= $1::bigint ORDER BY l.leaf_index LIMIT $2`,
              values: [String(fromIndex), limit],
            });
            return rows.map((r) => ({ leafIndex: Number(r.leaf_index), seq: r.seq, leafHash: r.leaf_hash, payload: r.payload }));
          },
          async unsealed(horizon) {
            const { rows } = await runQuery<{ pending: number; overdue: string | null }>(client, {
              name: 'cs_log_verify_unsealed',
              text: `SELECT count(*)::int AS pending, min(e.seq) FILTER (WHERE e.txid < $1::bigint)::text AS overdue
                     FROM audit_event e WHERE NOT EXISTS (SELECT 1 FROM audit_leaf l WHERE l.seq = e.seq)`,
              values: [horizon],
            });
            return { pending: rows[0].pending, overdue: rows[0].overdue === null ? null : { seq: rows[0].overdue } };
          },
        };
        const result = await fn(snap);
        await runQuery(client, 'COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },

    latestCheckpoint: () => latest(pool),

    checkpointAt: (treeSize) => checkpointAt(pool, treeSize),

    async listCheckpoints({ limit, beforeSize }) {
      const { rows } = await runQuery<CheckpointRow>(pool, {
        name: 'cs_log_list_checkpoints',
        text: `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoint c WHERE $1::bigint IS NULL OR c.tree_size < $1::bigint ORDER BY c.tree_size DESC LIMIT $2`,
        values: [beforeSize === undefined ? null : String(beforeSize), limit],
      });
      return rows.map(toCheckpoint);
    },

    async leafOf(seq) {
      const { rows } = await runQuery<{ leaf_index: string | null; seq: string; leaf_hash: Buffer | null }>(pool, {
        name: 'cs_log_leaf_of',
        text: 'SELECT l.leaf_index::text AS leaf_index, e.seq::text AS seq, l.leaf_hash FROM audit_event e LEFT JOIN audit_leaf l ON l.seq = e.seq WHERE e.seq = $1::bigint',
        values: [seq],
      });
      if (!rows[0]) return null;
      if (rows[0].leaf_index === null || !rows[0].leaf_hash) return 'unsealed';
      return { leafIndex: Number(rows[0].leaf_index), seq: rows[0].seq, leafHash: rows[0].leaf_hash };
    },

    storedHashes: (ids) => readStoredHashes(pool, ids),

    async sealLagSeconds() {
      const { rows } = await runQuery<{ lag: number | null }>(pool, {
        name: 'cs_log_seal_lag',
        text: `SELECT extract(epoch FROM now() - min(e.at))::float8 AS lag FROM audit_event e
               WHERE e.seq > (SELECT coalesce(max(l.seq), 0) FROM audit_leaf l)`,
      });
      return Math.max(0, rows[0].lag ?? 0);
    },

    async unpublished(sink, afterSize, limit) {
      const { rows } = await runQuery<CheckpointRow>(pool, {
        name: 'cs_log_unpublished',
        text: `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoint c
               WHERE c.tree_size > $2::bigint
                 AND NOT EXISTS (SELECT 1 FROM audit_checkpoint_publication p WHERE p.tree_size = c.tree_size AND p.sink = $1)
               ORDER BY c.tree_size LIMIT $3`,
        values: [sink, String(afterSize), limit],
      });
      return rows.map(toCheckpoint);
    },

    async markPublished(treeSize, sink) {
      await runQuery(pool, {
        name: 'cs_log_mark_published',
        text: 'INSERT INTO audit_checkpoint_publication (tree_size, sink) VALUES ($1::bigint, $2) ON CONFLICT DO NOTHING',
        values: [String(treeSize), sink],
      });
    },
  };
}
