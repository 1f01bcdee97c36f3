/**
 * The store layer: every SQL statement and Prisma call of the product lives in src/store/, one module per aggregate,
 * each behind a TSDoc'd port that services receive (usually as a `Pick<>`):
 *
 *   request-store   requests and votes: intake statement, locked vote/transition transaction, reads, reconcile read-outs
 *   delivery-store  cards, notifications and callbacks owed, and their outcomes
 *   audit-store     the append-only audit trail (plain appends on the hot path)
 *   log-store       the transparency log over it: leaves, subtree hashes, signed checkpoints, their publication
 *   api-key-store   API keys (digests only)
 *   people-store    the people directory: people, their identities, its version
 *   policy-store    every policy text that was in force, and when
 *   budget-store    routine-rule budget counters (one guarded upsert per request)
 *   standing-approval-store  standing approvals: created with a vote, drawn on by intake, revoked by approvers
 *   teams-conversation-store  where the Teams adapter may speak
 *   console-store   the web console's sessions and one-time sign-in links
 *
 * Prisma keeps the schema, the migrations and the ordinary typed reads and writes; the measured hot paths (intake
 * statement, vote transaction) run on node-postgres named statements over the same pool.
 */
import type pg from 'pg';
import { createApiKeyStore, type ApiKeyStore } from './api-key-store';
import { createAuditStore, type AuditStore } from './audit-store';
import { createBudgetStore, type BudgetStore } from './budget-store';
import { createStandingApprovalStore, type StandingApprovalStore } from './standing-approval-store';
import { createConsoleStore, type ConsoleStore } from './console-store';
import { createDatabase, markUnavailable, runQuery, type Database } from './database';
import { migrationState, type MigrationState } from './migrate';
import { createDeliveryStore, type DeliveryStore } from './delivery-store';
import { createPeopleStore, type PeopleStore } from './people-store';
import { createLogStore, type LogStore } from './log-store';
import { createPolicyStore, type PolicyStore } from './policy-store';
import { createRequestStore, type RequestStore } from './request-store';
import { createTeamsConversationStore, type TeamsConversationStore } from './teams-conversation-store';

export interface Store {
  requests: RequestStore;
  deliveries: DeliveryStore;
  audit: AuditStore;
  log: LogStore;
  apiKeys: ApiKeyStore;
  people: PeopleStore;
  policies: PolicyStore;
  budgets: BudgetStore;
  standingApprovals: StandingApprovalStore;
  teamsConversations: TeamsConversationStore;
  console: ConsoleStore;
  /** One round trip to the server (readiness). */
  ping(): Promise<void>;
  /** Whether the database has every migration in `shipped` applied (readiness). Throws when PostgreSQL cannot answer. */
  migrationState(shipped: readonly string[]): Promise<MigrationState>;
  /**
   * Who the service is connected as, and whether that role could rewrite the audit trail (superuser, owner of its
   * tables, or UPDATE/DELETE/TRUNCATE on them): start-up warns when it could.
   */
  connectedRole(): Promise<{ role: string; canRewriteAudit: boolean }>;
  connect(): Promise<void>;
  close(): Promise<void>;
}

/** Builds every store over one connection pool. `db` and `pool` are exposed for the migration runner's and tests' use. */
export function createStore(opts: { url: string; poolSize: number; onError?: (err: Error) => void }): Store & { db: Database; pool: pg.Pool } {
  const { db, pool } = createDatabase(opts);
  return {
    db,
    pool,
    requests: createRequestStore({ db, pool }),
    deliveries: createDeliveryStore({ db }),
    audit: createAuditStore({ db }),
    log: createLogStore({ pool }),
    apiKeys: createApiKeyStore({ db }),
    people: createPeopleStore({ db }),
    policies: createPolicyStore({ pool }),
    budgets: createBudgetStore({ pool }),
    standingApprovals: createStandingApprovalStore({ pool }),
    teamsConversations: createTeamsConversationStore({ db }),
    console: createConsoleStore({ pool }),
    async ping() {
      await runQuery(pool, 'SELECT 1');
    },
    async migrationState(shipped) {
      try {
        return await migrationState(pool, shipped);
      } catch (err) {
        throw markUnavailable(err);
      }
    },
    async connectedRole() {
      const { rows } = await runQuery<{ role: string; can_rewrite: boolean }>(
        pool,
        `SELECT current_user AS role,
           (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
           OR pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'audit_event'::regclass), 'USAGE')
           OR has_table_privilege('audit_event', 'UPDATE') OR has_table_privilege('audit_event', 'DELETE')
           OR has_table_privilege('audit_event', 'TRUNCATE') AS can_rewrite`,
      );
      return { role: rows[0].role, canRewriteAudit: rows[0].can_rewrite };
    },
    connect: () => db.$connect(),
    close: () => db.$disconnect(),
  };
}
