import { createHash } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const ZERO_HASH = '0'.repeat(64);

interface AuditRow {
  seq: string;
  chain: number;
  payload: string;
  prev_hash: string;
  hash: string;
}

function expectedHash(prev: string, seq: string, payload: string): string {
  return createHash('sha256').update(`${prev}|${seq}|${payload}`, 'utf8').digest('hex');
}

describe('audit_event triggers', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  async function insertEvent(c: pg.Client, chain: number, payload: string): Promise<AuditRow> {
    // seq, prev_hash and hash are the trigger's to set: whatever the client sends is overwritten.
    const { rows } = await c.query<AuditRow>(
      `INSERT INTO audit_event (chain, type, actor, actor_ids, channel, at, payload, prev_hash, hash)
       VALUES ($1, 'request.created', 'agent:ci', ARRAY['agent:ci'], 'api', now(), $2, 'forged', 'forged')
       RETURNING seq::text AS seq, chain, payload, prev_hash, hash`,
      [chain, payload],
    );
    return rows[0];
  }

  async function expectRefused(sql: string): Promise<void> {
    const error = await client.query(sql).then(
      () => undefined,
      (e: unknown) => e as pg.DatabaseError,
    );
    expect(error).toBeDefined();
    expect(error!.code).toBe('55000');
    expect(error!.message).toBe('audit_event is append-only');
  }

  it('seeds 16 chain heads at seq 0 with an all-zero hash', async () => {
    const { rows } = await client.query('SELECT chain, last_seq::text AS last_seq, last_hash FROM audit_chain_head ORDER BY chain');
    expect(rows).toEqual(Array.from({ length: 16 }, (_, chain) => ({ chain, last_seq: '0', last_hash: ZERO_HASH })));
  });

  it('links each event to the previous one of its chain with hash = sha256(prev|seq|payload)', async () => {
    const first = await insertEvent(client, 3, '{"event":"first","who":"Zoë"}');
    const other = await insertEvent(client, 4, '{"event":"other chain"}');
    const second = await insertEvent(client, 3, '{"event":"second"}');

    expect(first.prev_hash).toBe(ZERO_HASH);
    expect(first.hash).toBe(expectedHash(ZERO_HASH, first.seq, first.payload));
    expect(second.prev_hash).toBe(first.hash);
    expect(second.hash).toBe(expectedHash(first.hash, second.seq, second.payload));
    expect(BigInt(second.seq)).toBeGreaterThan(BigInt(first.seq));
    expect(other.prev_hash).toBe(ZERO_HASH);

    const head = await client.query('SELECT last_seq::text AS last_seq, last_hash FROM audit_chain_head WHERE chain = 3');
    expect(head.rows[0]).toEqual({ last_seq: second.seq, last_hash: second.hash });
  });

  it('keeps a chain consistent under concurrent appends (seq order is chain order)', async () => {
    const clients = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        return c;
      }),
    );
    try {
      // Four connections appending at once; each connection's own inserts go one after another.
      await Promise.all(
        clients.map(async (c, i) => {
          for (let j = 0; j < 10; j++) await insertEvent(c, 7, `{"w":${i},"n":${j}}`);
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const { rows } = await client.query<AuditRow>(
      'SELECT seq::text AS seq, chain, payload, prev_hash, hash FROM audit_event WHERE chain = 7 ORDER BY audit_event.seq',
    );
    expect(rows).toHaveLength(40);
    let prev = ZERO_HASH;
    for (const row of rows) {
      expect(row.prev_hash).toBe(prev);
      expect(row.hash).toBe(expectedHash(prev, row.seq, row.payload));
      prev = row.hash;
    }
  });

  it('refuses an event for a chain that does not exist', async () => {
    await expect(insertEvent(client, 99, '{}')).rejects.toMatchObject({ code: '23503', message: 'audit chain 99 does not exist' });
  });

  it('refuses UPDATE, DELETE and TRUNCATE with SQLSTATE 55000', async () => {
    await insertEvent(client, 0, '{"event":"kept"}');
    await expectRefused("UPDATE audit_event SET payload = 'tampered'");
    await expectRefused('DELETE FROM audit_event');
    await expectRefused('TRUNCATE audit_event');
    await expectRefused('TRUNCATE audit_event CASCADE');
    const { rows } = await client.query("SELECT count(*)::int AS n FROM audit_event WHERE payload = 'tampered'");
    expect(rows[0].n).toBe(0);
    const all = await client.query('SELECT count(*)::int AS n FROM audit_event');
    expect(all.rows[0].n).toBeGreaterThan(0);
  });
});
