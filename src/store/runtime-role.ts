/**
 * The runtime role: the PostgreSQL role the service connects as, distinct from the owner that runs migrations. The
 * owner can switch off the append-only triggers and rewrite anything; the runtime role gets exactly what the service
 * needs and nothing more: it may append to and read the audit trail and the transparency log (no UPDATE, DELETE,
 * TRUNCATE, no ownership, so no ALTER and no trigger control), and read and change the operational tables.
 * `npm run db:migrate` creates the role when it can and re-grants on every run, so a new migration's tables are
 * covered as soon as they are classified here.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';

type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/**
 * Every table the service uses, with what it may do. Evidence tables are append-only: leaves, subtree hashes and
 * checkpoints are written once by the sealer and never changed, so even the sealer needs no UPDATE. A table missing
 * from this list gets no grant at all (the test suite runs as the runtime role, so a forgotten table fails it).
 */
export const RUNTIME_GRANTS: Readonly<Record<string, readonly Privilege[]>> = {
  audit_event: ['SELECT', 'INSERT'],
  audit_leaf: ['SELECT', 'INSERT'],
  audit_node: ['SELECT', 'INSERT'],
  audit_checkpoint: ['SELECT', 'INSERT'],
  audit_checkpoint_publication: ['SELECT', 'INSERT'],
  // Votes are evidence too: recorded once, never changed.
  vote: ['SELECT', 'INSERT'],
  // A grant is used once: the row is the proof, never changed.
  grant_use: ['SELECT', 'INSERT'],
  // Every policy text that was in force, and when: the rules decisions were made under, kept as written.
  policy_version: ['SELECT', 'INSERT'],
  policy_in_force: ['SELECT', 'INSERT'],
  approval_request: ['SELECT', 'INSERT', 'UPDATE'],
  delivery: ['SELECT', 'INSERT', 'UPDATE'],
  api_key: ['SELECT', 'INSERT', 'UPDATE'],
  // Removed when the bot is uninstalled from a conversation.
  teams_conversation: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  // The people directory is managed by operators through the service (CLI, admin API): people and identities come and
  // go; every change is an audit event, which is where the history lives.
  person: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  person_identity: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  directory_version: ['SELECT', 'UPDATE'],
  // The migration ledger: readiness compares it with the migrations the service ships; reading is all it may do.
  _prisma_migrations: ['SELECT'],
  // Budget counters: drawn and given back by intake; counters of closed windows are pruned.
  policy_budget: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  // Standing approvals: created by a vote, drawn on by intake, revoked by approvers; never deleted (the trail's evidence).
  standing_approval: ['SELECT', 'INSERT', 'UPDATE'],
  // Web console sessions are revoked (sign-out, step-up) and expired ones purged; links are marked used once.
  console_session: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
  console_sign_in_link: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
};

export interface RuntimeRole {
  name: string;
  /** Set on the role when given (as a SCRAM-SHA-256 verifier computed here: the clear password never reaches the server). */
  password?: string;
}

export class RuntimeRoleError extends Error {
  constructor(
    readonly code: 'runtime_role_missing' | 'runtime_role_privileged',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RuntimeRoleError';
  }
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** A SCRAM-SHA-256 password verifier in PostgreSQL's format (RFC 5802/7677, 4096 iterations like the server's default). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Errors that mean another migration run created or altered the same role at the same moment. */
function isConcurrentRoleChange(err: unknown): boolean {
  const e = err as pg.DatabaseError;
  return e?.code === '42710' || e?.code === '23505' || (e?.code === 'XX000' && /concurrently/.test(e.message));
}

async function ensureRoleExists(client: pg.Client, role: RuntimeRole, log: (msg: string) => void): Promise<void> {
  const { rows } = await client.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [role.name]);
  if (rows.length === 0) {
    try {
      await client.query(`CREATE ROLE ${quoteIdent(role.name)} LOGIN${role.password ? ` PASSWORD ${quoteLiteral(scramVerifier(role.password))}` : ''}`);
      log(`created the runtime role ${role.name}`);
      return;
    } catch (err) {
      if (isConcurrentRoleChange(err)) return;
      if ((err as pg.DatabaseError).code === '42501') {
        throw new RuntimeRoleError(
          'runtime_role_missing',
          `the runtime role ${role.name} does not exist and the migration role may not create roles; create it once with ` +
            `CREATE ROLE ${quoteIdent(role.name)} LOGIN PASSWORD '…', then migrate again`,
          { cause: err },
        );
      }
      throw err;
    }
  }
  if (rows[0].rolsuper) {
    throw new RuntimeRoleError('runtime_role_privileged', `the runtime role ${role.name} is a superuser: it could rewrite the audit trail; use an ordinary role`);
  }
  if (!role.password) return;
  try {
    await client.query(`ALTER ROLE ${quoteIdent(role.name)} PASSWORD ${quoteLiteral(scramVerifier(role.password))}`);
  } catch (err) {
    // Without CREATEROLE the owner cannot set another role's password: whoever created the role manages it.
    if ((err as pg.DatabaseError).code === '42501' || isConcurrentRoleChange(err)) return;
    throw err;
  }
}

/**
 * Creates the runtime role if needed (LOGIN, with the password when given) and makes its privileges exactly
 * {@link RUNTIME_GRANTS} on the tables of `schema`, USAGE on its sequences, CONNECT on the database and USAGE on the
 * schema. Runs on the migration connection (the owner). Idempotent, and safe while another run does the same.
 * @returns Tables of the schema the service gets no grant on.
 */
export async function grantRuntimeRole(client: pg.Client, opts: { role: RuntimeRole; schema: string; log?: (msg: string) => void }): Promise<{ ungranted: string[] }> {
  const { role, schema } = opts;
  const log = opts.log ?? (() => undefined);
  for (let attempt = 0; ; attempt++) {
    try {
      await ensureRoleExists(client, role, log);
      break;
    } catch (err) {
      if (!isConcurrentRoleChange(err) || attempt >= 3) throw err;
    }
  }
  const owns = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND pg_has_role($2, c.relowner, 'USAGE') LIMIT 1`,
    [schema, role.name],
  );
  if (owns.rows.length) {
    throw new RuntimeRoleError('runtime_role_privileged', `the runtime role ${role.name} owns (or is a member of the owner of) ${schema}.${owns.rows[0].relname}: it could drop its triggers; migrate as another role`);
  }

  const { rows: tables } = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
    [schema],
  );
  const r = quoteIdent(role.name);
  const s = quoteIdent(schema);
  const { rows: db } = await client.query<{ name: string }>('SELECT current_database() AS name');
  // One transaction: other sessions never see the role between the REVOKE and the GRANTs.
  await client.query('BEGIN');
  try {
    await client.query(`GRANT CONNECT ON DATABASE ${quoteIdent(db[0].name)} TO ${r}`);
    await client.query(`GRANT USAGE ON SCHEMA ${s} TO ${r}`);
    await client.query(`REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${r}`);
    await client.query(`REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${s} FROM ${r}`);
    for (const { relname } of tables) {
      const privileges = RUNTIME_GRANTS[relname];
      if (privileges) await client.query(`GRANT ${privileges.join(', ')} ON ${s}.${quoteIdent(relname)} TO ${r}`);
    }
    // USAGE allows nextval (bigserial ids), not setval.
    await client.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return { ungranted: tables.map((t) => t.relname).filter((t) => !RUNTIME_GRANTS[t]) };
}
