/**
 * Approval requests and their votes: the intake statement, the locked vote/transition transaction (both on
 * node-postgres named statements, the measured hot paths), typed reads through Prisma, and the read-outs the
 * reconciler and the delivery planner need.
 */
import { randomUUID } from 'node:crypto';
import type { CountedVote, VoteChannel, VoteDecision } from '../domain/approval';
import type { AuditEventInput } from '../domain/audit-event';
import type { StoredContext } from '../domain/context-values';
import type { PersonIdentity, RequesterIdentity } from '../domain/identity';
import type { PolicyDecision, Requirement, Risk } from '../domain/policy';
import { requestNotFound } from '../domain/app-error';
import type { RequestStatus } from '../domain/request-lifecycle';
import { appendAuditEvents, auditInsertSql, auditRowsParam } from './audit-store';
import { insertStandingApproval, type NewStandingApproval } from './standing-approval-store';
import { runQuery, withTransaction, type Database, type Sql, type SqlPool } from './database';

/**
 * The state version in SQL, for statements that must compare it without reading every row back. It mirrors
 * `stateVersion()` in src/domain/request-lifecycle.ts; test/db/request-store.test.ts holds the two equal.
 * `r` is the request's alias.
 */
export const STATE_VERSION_SQL = `(r.status::text || ':' || (SELECT count(*) FROM vote v WHERE v.request_id = r.id)::text)`;

/** The audit event type that records a request's expiry warning (what `owedExpiryWarnings` looks for). */
export const EXPIRING_EVENT = 'request.expiring';

/** Everything intake writes for a new request. */
export interface NewRequest {
  id: string;
  /** The intake span's W3C traceparent, when tracing saw one (later spans of the request continue it). */
  traceParent?: string | null;
  status: RequestStatus;
  action: string;
  resource: string;
  requester: RequesterIdentity;
  onBehalfOf: PersonIdentity | null;
  justification: string | null;
  context: StoredContext;
  risk: Risk | null;
  environment: string | null;
  callbackUrl: string | null;
  traceId: string | null;
  parentRequestId: string | null;
  apiKeyId: string;
  apiKeyName: string;
  /** The submitting key's owner reference, as the key held it. */
  keyOwner: string | null;
  /** Person ids resolved at intake: what self-approval compares (with a re-resolution at vote time). */
  requesterPerson: string | null;
  onBehalfOfPerson: string | null;
  keyOwnerPerson: string | null;
  /** Fields taken from the key rather than the agent's body. */
  pinnedFields: string[];
  /** What an approval grant binds (src/domain/grant.ts), and its window. */
  actionHash: string;
  grantTtlSeconds: number | null;
  idempotencyKey: string | null;
  bodyHash: string;
  policyRule: string;
  policyOutcome: PolicyDecision['outcome'];
  policyHash: string;
  requirement: Requirement | null;
  approvalsRequired: number;
  expiresAt: Date;
  createdAt: Date;
  decidedAt: Date | null;
  decidedBy: string | null;
  decisionReason: string | null;
  /** The standing approval that approved it at once, when one did. */
  standingApprovalId?: string | null;
}

export interface VoteRecord extends CountedVote {
  reason: string | null;
}

export interface DeliveryRecord {
  kind: string;
  target: string;
  status: string;
  attempts: number;
  lastError: string | null;
  updatedAt: Date;
}

/** A request as read back, with its votes (oldest first) and deliveries. */
export interface RequestRecord extends Omit<NewRequest, 'idempotencyKey' | 'bodyHash' | 'status'> {
  status: RequestStatus;
  /** When its grant was used, and by which key (null until then). */
  grantUse: { usedAt: Date; keyName: string } | null;
  outcomeReport: unknown;
  votes: VoteRecord[];
  deliveries: DeliveryRecord[];
}

/** The request as locked for a change: what the vote rules and transitions need. */
export interface LockedRequest {
  id: string;
  status: RequestStatus;
  /** What a standing approval given on this request covers. */
  action: string;
  resource: string;
  environment: string | null;
  requesterId: string;
  requesterType: string;
  policyRule: string;
  requester: PersonIdentity;
  onBehalfOf: PersonIdentity | null;
  keyOwner: string | null;
  requesterPerson: string | null;
  onBehalfOfPerson: string | null;
  keyOwnerPerson: string | null;
  apiKeyId: string;
  expiresAt: Date;
  requirement: Requirement | null;
  approvalsRequired: number;
  outcomeReport: unknown;
  policyOutcome: PolicyDecision['outcome'];
  /** When it was submitted (time to decision is measured from here). */
  createdAt: Date;
  /** Votes read AFTER the lock was taken, oldest first. */
  votes: CountedVote[];
}

/** The writes allowed while a request's row is locked; all commit together or not at all. */
export interface RequestTransaction {
  readonly request: LockedRequest;
  insertVote(vote: CountedVote): Promise<void>;
  /** Guarded: only a pending request moves, so a lost race changes nothing. Returns whether it moved. */
  transition(to: RequestStatus, at: Date, decidedBy: string | null, reason: string | null): Promise<boolean>;
  /** Records the requester's outcome report once (a second call changes nothing). */
  setOutcomeReport(report: Record<string, unknown>): Promise<void>;
  /** Records a standing approval granted with this transaction's vote. */
  createStandingApproval(standing: NewStandingApproval): Promise<void>;
  /** Records the stage a staged requirement now asks (the reconciler reads it to know which stages are owed cards). */
  setStage(stage: number): Promise<void>;
  appendAudit(events: AuditEventInput[]): Promise<void>;
  /** Guarded: replaces a pending request's requirement (an escalation adding approvers). Returns whether it did. */
  replaceRequirement(requirement: Requirement): Promise<boolean>;
}

export interface RequestListFilter {
  status?: RequestStatus;
  action?: string;
  /** Requester id, or email (compared lower-cased). */
  requester?: string;
  traceId?: string;
  /** Only requests this API key submitted. */
  apiKeyId?: string;
  /** Only requests decided in [decidedSince, decidedUntil). */
  decidedSince?: Date;
  decidedUntil?: Date;
}

/** The console inbox's filters. `text` matches action, resource, justification or requester id (case-insensitive). */
export interface InboxFilter {
  /** A LIKE pattern (see globToLike in src/services/audit-service.ts). */
  actionLike?: string;
  risk?: Risk;
  environment?: string;
  text?: string;
}

/** What intake's idempotent replay needs about the original request. */
export interface IdempotentOriginal {
  id: string;
  bodyHash: string;
  policyOutcome: PolicyDecision['outcome'];
  policyRule: string;
  expiresAt: Date;
  /** Set when a standing approval approved it at once. */
  standingApproval: string | null;
  /** Whether its rule's budget was spent, so it went to people. */
  budgetExhausted: boolean;
}

/** What a change owes, read in one statement for the delivery planner. */
export interface ChangeSummary {
  status: RequestStatus;
  policyOutcome: PolicyDecision['outcome'];
  callbackUrl: string | null;
  voteCount: number;
  /** Targets of the cards that were posted (delivered). */
  postedCardTargets: string[];
  /** Approved at once by a standing approval: like a routine approval, nobody is notified. */
  byStandingApproval: boolean;
}

/** Port of the requests aggregate. Services receive it (or a `Pick<>` of it), never the database client. */
export interface RequestStore {
  /**
   * Inserts the request and its audit events in ONE statement (nothing half-written, one round trip).
   * @returns false when this API key already used `idempotencyKey` (nothing was written).
   */
  insert(request: NewRequest, events: AuditEventInput[]): Promise<boolean>;
  findByIdempotencyKey(apiKeyId: string, idempotencyKey: string): Promise<IdempotentOriginal | null>;
  /**
   * Locks the request's row, reads its votes, and runs `fn` in the same transaction.
   * @throws AppError `not_found` when there is no such request (nothing is written).
   */
  change<T>(id: string, fn: (tx: RequestTransaction) => Promise<T>): Promise<T>;
  get(id: string): Promise<RequestRecord | null>;
  /** Newest first; `after` is the last item of the previous page. Returns up to `limit` items. */
  list(filter: RequestListFilter, page: { limit: number; after?: { createdAt: Date; id: string } }): Promise<RequestRecord[]>;
  /**
   * The web console's inbox: pending, unexpired requests `personId` may still decide (an approver group member, not a
   * party by the ids stored at intake, no vote yet), filtered, newest first; `after` is the previous page's last item.
   */
  inbox(personId: string, filter: InboxFilter, page: { limit: number; after?: { createdAt: Date; id: string } }, now: Date): Promise<RequestRecord[]>;
  /**
   * The requests of one agent run, oldest first: those sharing `traceId` (or, for `requestId`, the request, its chain of
   * parents and every trace along that chain), each with its chain of parents and all its descendants
   * (parentRequestId), at most `limit` (walks end at depth 50).
   */
  lineage(of: { traceId?: string; requestId?: string }, limit: number): Promise<RequestRecord[]>;
  /** Requests `personId` voted on (any channel), newest first; `after` is the previous page's last item. */
  votedBy(personId: string, page: { limit: number; after?: { createdAt: Date; id: string } }): Promise<RequestRecord[]>;
  /** Pending, unexpired requests whose approvers include any of `memberKeys`, newest first (at most `scan` examined). */
  pendingForMembers(memberKeys: string[], now: Date, scan: number): Promise<RequestRecord[]>;
  changeSummary(id: string): Promise<ChangeSummary | null>;
  /**
   * Records the single use of a request's grant, with its audit event, in one statement.
   * @returns false when the grant was already used (nothing written).
   */
  recordGrantUse(use: { requestId: string; at: Date; keyId: string; keyName: string }, events: AuditEventInput[]): Promise<boolean>;
  /** The W3C traceparent stored with a request at intake (null without one, or for no such request). */
  traceParentOf(id: string): Promise<string | null>;
  /** How many requests are pending, across every key (metrics). */
  countPending(): Promise<number>;
  /** How many pending requests each API key has (keys with none are absent). */
  pendingCountsByKey(): Promise<Map<string, number>>;
  /** Ids of pending requests at or past their expiry, oldest expiry first. */
  overdueIds(limit: number): Promise<string[]>;
  /**
   * Card targets not yet settled (delivered, skipped or failed): every one of a pending, unexpired request, and of a
   * request decided in the last week those an attempt began on (a pending row: its card may have been posted, and
   * must then be found and shown final). `expiresAt` is null for a decided request (no timer to arm).
   */
  awaitingCards(limit: number): Promise<{ id: string; expiresAt: Date | null; targets: string[] }[]>;
  /**
   * Requests that owe something after a change: decided in the last week and still owing a callback, a requester
   * notification per configured platform (`notifyPlatforms`) or a final card render; or pending with a posted card
   * that does not show the current state. A render given up for good (`abandonedVersion`) is not owed. Returns their
   * state version.
   */
  owingChanges(notifyPlatforms: number, limit: number): Promise<{ id: string; status: RequestStatus; voteCount: number }[]>;
  /**
   * Pending, unexpired requests whose requirement asks for an expiry warning (`warnBeforeExpirySeconds`) that has not
   * been given yet (no `request.expiring` event), with when it is due: what the reconciler re-arms timers from.
   */
  owedExpiryWarnings(limit: number): Promise<{ id: string; warnAt: Date }[]>;
  /**
   * Pending, unexpired requests whose requirement asks for reminders (`remindSeconds`), oldest first (or just
   * `requestId`): when each was submitted, its delivered card targets and the reminder rows already settled.
   */
  remindersOwed(opts: { requestId?: string; limit: number }): Promise<{ id: string; createdAt: Date; remindSeconds: number[]; cards: string[]; settled: string[] }[]>;
  /** Pending, unexpired requests whose requirement escalates and has not yet: when each escalation is due. */
  escalationsOwed(limit: number): Promise<{ id: string; dueAt: Date }[]>;
  /**
   * Records a pending request's expiry warning once: locks the row and, when the request is still pending, unexpired
   * and not yet warned, appends `events(request)` (which must include the `request.expiring` event) in the same
   * transaction. Safe to run any number of times on any number of nodes.
   * @returns the request's expiry when the warning was recorded now, null otherwise.
   */
  recordExpiryWarning(id: string, now: Date, events: (request: { expiresAt: Date; callbackUrl: string | null }) => AuditEventInput[]): Promise<Date | null>;
}

const INSERT_SQL = `WITH ins AS (
  INSERT INTO approval_request (id, status, action, resource, requester_id, requester_type, requester_email, requester,
    on_behalf_of, justification, context, risk, environment, callback_url, trace_id, parent_request_id, api_key_id,
    api_key_name, key_owner, idempotency_key, body_hash, policy_rule, policy_outcome, policy_hash, requirement,
    approvals_required, expires_at, created_at, decided_at, decided_by, decision_reason, requester_person,
    on_behalf_of_person, key_owner_person, pinned_fields, action_hash, grant_ttl_seconds, trace_parent, standing_approval_id)
  VALUES ($1::uuid, $2::"RequestStatus", $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11::jsonb, $12::"Risk", $13, $14,
    $15, $16::uuid, $17::uuid, $18, $19, $20, $21, $22, $23::"PolicyOutcome", $24, $25::jsonb, $26, $27::timestamptz,
    $28::timestamptz, $29::timestamptz, $30, $31, $33, $34, $35, $36::text[], $37, $38, $39, $40::uuid)
  ON CONFLICT (api_key_id, idempotency_key) DO NOTHING
  RETURNING id
), ev AS (
  ${auditInsertSql('$32', ' WHERE EXISTS (SELECT 1 FROM ins)')}
  RETURNING 1
)
SELECT (SELECT id FROM ins) AS id, (SELECT count(*)::int FROM ev) AS events`;

/**
 * The card targets a pending request is owed so far (`r` is the request): its channels, or for a staged requirement the
 * channels of the stages asked up to its current one (stage n+1's approvers get cards only once stage n approved).
 */
const ASKED_CHANNELS_SQL = `SELECT jsonb_array_elements_text(COALESCE(r.requirement->'channels', '[]'::jsonb)) WHERE NOT (r.requirement ? 'stages')
  UNION SELECT jsonb_array_elements_text(s.stage->'channels')
    FROM jsonb_array_elements(CASE WHEN r.requirement ? 'stages' THEN r.requirement->'stages' ELSE '[]'::jsonb END) WITH ORDINALITY AS s(stage, n)
    WHERE s.n <= r.stage + 1`;

const GRANT_USE_SQL = `WITH ins AS (
  INSERT INTO grant_use (request_id, used_at, key_id, key_name) VALUES ($1::uuid, $2::timestamptz, $3::uuid, $4)
  ON CONFLICT (request_id) DO NOTHING
  RETURNING request_id
), ev AS (
  ${auditInsertSql('$5', ' WHERE EXISTS (SELECT 1 FROM ins)')}
  RETURNING 1
)
SELECT (SELECT request_id FROM ins) AS id, (SELECT count(*)::int FROM ev) AS events`;

// Two statements on purpose: under READ COMMITTED a sub-select in the locking statement would read the votes as of
// the statement's snapshot, taken BEFORE it waited for the lock, and miss the vote that the previous holder committed.
const LOCK_SQL = `SELECT id, status, action, resource, environment, requester_id, requester_type, policy_rule, requester, on_behalf_of, key_owner, requester_person, on_behalf_of_person, key_owner_person,
    api_key_id, expires_at, requirement, approvals_required, outcome_report, policy_outcome, created_at
  FROM approval_request WHERE id = $1::uuid FOR UPDATE`;
const VOTES_SQL = `SELECT person_key, approver, channel, decision, reason, created_at, attested_by FROM vote WHERE request_id = $1::uuid ORDER BY created_at`;
const VOTE_INSERT_SQL = `INSERT INTO vote (id, request_id, person_key, approver, channel, decision, reason, created_at, attested_by)
  VALUES ($1::uuid, $2::uuid, $3, $4::jsonb, $5, $6::"VoteDecision", $7, $8::timestamptz, $9)`;
const TRANSITION_SQL = `UPDATE approval_request SET status = $2::"RequestStatus", decided_at = $3::timestamptz, decided_by = $4, decision_reason = $5
  WHERE id = $1::uuid AND status = 'pending'`;

interface LockedRow {
  id: string;
  status: RequestStatus;
  action: string;
  resource: string;
  environment: string | null;
  requester_id: string;
  requester_type: string;
  policy_rule: string;
  requester: PersonIdentity;
  on_behalf_of: PersonIdentity | null;
  key_owner: string | null;
  requester_person: string | null;
  on_behalf_of_person: string | null;
  key_owner_person: string | null;
  api_key_id: string;
  expires_at: Date;
  requirement: Requirement | null;
  approvals_required: number;
  outcome_report: unknown;
  policy_outcome: PolicyDecision['outcome'];
  created_at: Date;
}
interface VoteRow {
  person_key: string;
  approver: PersonIdentity;
  channel: VoteChannel;
  decision: VoteDecision;
  reason: string | null;
  created_at: Date;
  attested_by: string | null;
}

const include = { votes: { orderBy: { createdAt: 'asc' as const } }, deliveries: { orderBy: { createdAt: 'asc' as const } }, grantUse: true };
type PrismaRow = NonNullable<Awaited<ReturnType<Database['approvalRequest']['findUnique']>>> & {
  votes: { personKey: string; approver: unknown; channel: string; decision: string; reason: string | null; createdAt: Date; attestedBy: string | null }[];
  deliveries: { kind: string; target: string; status: string; attempts: number; lastError: string | null; updatedAt: Date }[];
  grantUse: { usedAt: Date; keyName: string } | null;
};

/** The one place a Prisma row becomes a typed record; JSON columns hold what intake wrote. */
function toRecord(row: PrismaRow): RequestRecord {
  return {
    id: row.id,
    status: row.status as RequestStatus,
    action: row.action,
    resource: row.resource,
    requester: row.requester as unknown as RequesterIdentity,
    onBehalfOf: (row.onBehalfOf as PersonIdentity | null) ?? null,
    justification: row.justification,
    context: row.context as StoredContext,
    risk: row.risk as Risk | null,
    environment: row.environment,
    callbackUrl: row.callbackUrl,
    traceId: row.traceId,
    parentRequestId: row.parentRequestId,
    apiKeyId: row.apiKeyId,
    apiKeyName: row.apiKeyName,
    keyOwner: row.keyOwner,
    requesterPerson: row.requesterPerson,
    onBehalfOfPerson: row.onBehalfOfPerson,
    keyOwnerPerson: row.keyOwnerPerson,
    pinnedFields: row.pinnedFields ?? [],
    actionHash: row.actionHash ?? '',
    grantTtlSeconds: row.grantTtlSeconds,
    grantUse: row.grantUse ? { usedAt: row.grantUse.usedAt, keyName: row.grantUse.keyName } : null,
    policyRule: row.policyRule,
    policyOutcome: row.policyOutcome as PolicyDecision['outcome'],
    policyHash: row.policyHash,
    requirement: (row.requirement as Requirement | null) ?? null,
    approvalsRequired: row.approvalsRequired,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    decidedAt: row.decidedAt,
    decidedBy: row.decidedBy,
    decisionReason: row.decisionReason,
    standingApprovalId: row.standingApprovalId ?? null,
    outcomeReport: row.outcomeReport ?? null,
    votes: row.votes.map((v) => ({
      personKey: v.personKey,
      approver: v.approver as PersonIdentity,
      channel: v.channel,
      decision: v.decision as VoteDecision,
      reason: v.reason,
      at: v.createdAt,
      attestedBy: v.attestedBy,
    })),
    deliveries: row.deliveries.map((d) => ({ kind: d.kind, target: d.target, status: d.status, attempts: d.attempts, lastError: d.lastError, updatedAt: d.updatedAt })),
  };
}

const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

export function createRequestStore(deps: { db: Pick<Database, 'approvalRequest' | '$queryRawUnsafe'>; pool: SqlPool }): RequestStore {
  const { db, pool } = deps;

  function transactionOn(tx: Sql, request: LockedRequest): RequestTransaction {
    return {
      request,
      async insertVote(v) {
        // The unique (request_id, person_key) constraint backs up the domain's duplicate check.
        await runQuery(tx, {
          name: 'cs_vote_insert',
          text: VOTE_INSERT_SQL,
          values: [randomUUID(), request.id, v.personKey, JSON.stringify(v.approver), v.channel, v.decision, v.reason ?? null, v.at, v.attestedBy ?? null],
        });
      },
      async replaceRequirement(requirement) {
        const res = await runQuery(tx, `UPDATE approval_request SET requirement = $2::jsonb WHERE id = $1::uuid AND status = 'pending'`, [request.id, JSON.stringify(requirement)]);
        return res.rowCount === 1;
      },
      async transition(to, at, decidedBy, reason) {
        const res = await runQuery(tx, { name: 'cs_transition', text: TRANSITION_SQL, values: [request.id, to, at, decidedBy, reason] });
        return res.rowCount === 1;
      },
      async setOutcomeReport(report) {
        await runQuery(tx, { name: 'cs_outcome_report', text: 'UPDATE approval_request SET outcome_report = $2::jsonb WHERE id = $1::uuid AND outcome_report IS NULL', values: [request.id, JSON.stringify(report)] });
      },
      createStandingApproval: (standing) => insertStandingApproval(tx, standing),
      async setStage(stage) {
        await runQuery(tx, { name: 'cs_set_stage', text: 'UPDATE approval_request SET stage = $2 WHERE id = $1::uuid AND status = \'pending\'', values: [request.id, stage] });
      },
      appendAudit: (events) => appendAuditEvents(tx, events),
    };
  }

  return {
    async insert(r, events) {
      // A named statement: parsed and planned once per connection.
      const { rows } = await runQuery<{ id: string | null }>(pool, {
        name: 'cs_intake_insert',
        text: INSERT_SQL,
        values: [
          r.id, r.status, r.action, r.resource, r.requester.id, r.requester.type, r.requester.email ?? null,
          JSON.stringify(r.requester), json(r.onBehalfOf), r.justification, JSON.stringify(r.context),
          r.risk, r.environment, r.callbackUrl, r.traceId, r.parentRequestId,
          r.apiKeyId, r.apiKeyName, r.keyOwner, r.idempotencyKey, r.bodyHash, r.policyRule, r.policyOutcome, r.policyHash,
          json(r.requirement), r.approvalsRequired, r.expiresAt, r.createdAt, r.decidedAt, r.decidedBy, r.decisionReason,
          auditRowsParam(events), r.requesterPerson, r.onBehalfOfPerson, r.keyOwnerPerson, r.pinnedFields, r.actionHash, r.grantTtlSeconds,
          r.traceParent ?? null, r.standingApprovalId ?? null,
        ],
      });
      return Boolean(rows[0]?.id);
    },

    async findByIdempotencyKey(apiKeyId, idempotencyKey) {
      const { rows } = await runQuery<{ id: string; body_hash: string; policy_outcome: PolicyDecision['outcome']; policy_rule: string; expires_at: Date; standing_approval_id: string | null; budget_exhausted: boolean }>(
        pool,
        `SELECT id, body_hash, policy_outcome, policy_rule, expires_at, standing_approval_id, COALESCE(requirement ? 'budgetExhausted', false) AS budget_exhausted
         FROM approval_request WHERE api_key_id = $1::uuid AND idempotency_key = $2`,
        [apiKeyId, idempotencyKey],
      );
      const row = rows[0];
      return row ? { id: row.id, bodyHash: row.body_hash, policyOutcome: row.policy_outcome, policyRule: row.policy_rule, expiresAt: new Date(row.expires_at), standingApproval: row.standing_approval_id, budgetExhausted: row.budget_exhausted } : null;
    },

    async traceParentOf(id) {
      const { rows } = await runQuery<{ trace_parent: string | null }>(pool, { name: 'cs_trace_parent', text: 'SELECT trace_parent FROM approval_request WHERE id = $1::uuid', values: [id] });
      return rows[0]?.trace_parent ?? null;
    },

    async countPending() {
      const { rows } = await runQuery<{ n: number }>(pool, { name: 'cs_count_pending', text: `SELECT count(*)::int AS n FROM approval_request WHERE status = 'pending'` });
      return rows[0].n;
    },

    async change(id, fn) {
      return withTransaction(pool, async (tx) => {
        const { rows } = await runQuery<LockedRow>(tx, { name: 'cs_lock_request', text: LOCK_SQL, values: [id] });
        const row = rows[0];
        if (!row) throw requestNotFound(id);
        const votes = await runQuery<VoteRow>(tx, { name: 'cs_request_votes', text: VOTES_SQL, values: [id] });
        const request: LockedRequest = {
          id: row.id,
          status: row.status,
          action: row.action,
          resource: row.resource,
          environment: row.environment,
          requesterId: row.requester_id,
          requesterType: row.requester_type,
          policyRule: row.policy_rule,
          requester: row.requester,
          onBehalfOf: row.on_behalf_of,
          keyOwner: row.key_owner,
          requesterPerson: row.requester_person,
          onBehalfOfPerson: row.on_behalf_of_person,
          keyOwnerPerson: row.key_owner_person,
          apiKeyId: row.api_key_id,
          expiresAt: new Date(row.expires_at),
          requirement: row.requirement,
          approvalsRequired: row.approvals_required,
          outcomeReport: row.outcome_report,
          policyOutcome: row.policy_outcome,
          createdAt: new Date(row.created_at),
          votes: votes.rows.map((v) => ({ personKey: v.person_key, approver: v.approver, channel: v.channel, decision: v.decision, reason: v.reason, at: new Date(v.created_at), attestedBy: v.attested_by })),
        };
        return fn(transactionOn(tx, request));
      });
    },

    async get(id) {
      const row = (await db.approvalRequest.findUnique({ where: { id }, include })) as PrismaRow | null;
      return row ? toRecord(row) : null;
    },

    async list(filter, page) {
      const after = page.after;
      const where = {
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.action ? { action: filter.action } : {}),
        ...(filter.requester ? { OR: [{ requesterId: filter.requester }, { requesterEmail: filter.requester.toLowerCase() }] } : {}),
        ...(filter.traceId ? { traceId: filter.traceId } : {}),
        ...(filter.apiKeyId ? { apiKeyId: filter.apiKeyId } : {}),
        ...(filter.decidedSince || filter.decidedUntil ? { decidedAt: { ...(filter.decidedSince ? { gte: filter.decidedSince } : {}), ...(filter.decidedUntil ? { lt: filter.decidedUntil } : {}) } } : {}),
        ...(after ? { AND: [{ OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] }] } : {}),
      };
      const rows = (await db.approvalRequest.findMany({ where, include, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: page.limit })) as PrismaRow[];
      return rows.map(toRecord);
    },

    async inbox(personId, filter, page, now) {
      const like = filter.text ? `%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
      const { rows } = await runQuery<{ id: string }>(pool, {
        name: 'cs_console_inbox',
        text: `SELECT r.id FROM approval_request r
          WHERE r.status = 'pending' AND r.expires_at > $2::timestamptz
            AND COALESCE(r.requirement->'members', '[]'::jsonb) ? $1
            AND r.requester_person IS DISTINCT FROM $1 AND r.on_behalf_of_person IS DISTINCT FROM $1 AND r.key_owner_person IS DISTINCT FROM $1
            AND NOT EXISTS (SELECT 1 FROM vote v WHERE v.request_id = r.id AND v.person_key = $1)
            AND ($3::text IS NULL OR r.action LIKE $3)
            AND ($4::text IS NULL OR r.risk::text = $4)
            AND ($5::text IS NULL OR r.environment = $5)
            AND ($6::text IS NULL OR r.action ILIKE $6 OR r.resource ILIKE $6 OR r.justification ILIKE $6 OR r.requester_id ILIKE $6)
            AND ($7::timestamptz IS NULL OR (r.created_at, r.id) < ($7::timestamptz, $8::uuid))
          ORDER BY r.created_at DESC, r.id DESC LIMIT $9`,
        values: [personId, now, filter.actionLike ?? null, filter.risk ?? null, filter.environment ?? null, like, page.after?.createdAt ?? null, page.after?.id ?? null, page.limit],
      });
      if (rows.length === 0) return [];
      const found = (await db.approvalRequest.findMany({ where: { id: { in: rows.map((r) => r.id) } }, include })) as PrismaRow[];
      const byId = new Map(found.map((r) => [r.id, toRecord(r)]));
      return rows.map((r) => byId.get(r.id)).filter((r): r is RequestRecord => Boolean(r));
    },

    async votedBy(personId, page) {
      const { rows } = await runQuery<{ id: string }>(pool, {
        name: 'cs_console_history',
        text: `SELECT r.id FROM approval_request r
          WHERE EXISTS (SELECT 1 FROM vote v WHERE v.request_id = r.id AND v.person_key = $1)
            AND ($2::timestamptz IS NULL OR (r.created_at, r.id) < ($2::timestamptz, $3::uuid))
          ORDER BY r.created_at DESC, r.id DESC LIMIT $4`,
        values: [personId, page.after?.createdAt ?? null, page.after?.id ?? null, page.limit],
      });
      if (rows.length === 0) return [];
      const found = (await db.approvalRequest.findMany({ where: { id: { in: rows.map((r) => r.id) } }, include })) as PrismaRow[];
      const byId = new Map(found.map((r) => [r.id, toRecord(r)]));
      return rows.map((r) => byId.get(r.id)).filter((r): r is RequestRecord => Boolean(r));
    },

    async lineage(of, limit) {
      // parent_request_id is the agent's claim and may form a cycle: the depth bound ends every walk.
      const { rows } = await runQuery<{ id: string }>(pool, {
        name: 'cs_request_lineage',
        text: `WITH RECURSIVE start AS (
            SELECT r.id, r.parent_request_id, r.trace_id, 0 AS depth FROM approval_request r WHERE r.id = $2::uuid
            UNION SELECT p.id, p.parent_request_id, p.trace_id, start.depth + 1 FROM approval_request p JOIN start ON p.id = start.parent_request_id WHERE start.depth < 50
          ), seed AS (
            SELECT r.id FROM approval_request r WHERE r.trace_id = $1 OR r.id IN (SELECT id FROM start)
              OR r.trace_id IN (SELECT trace_id FROM start WHERE trace_id IS NOT NULL)
          ), up AS (
            SELECT r.id, r.parent_request_id, 0 AS depth FROM approval_request r WHERE r.id IN (SELECT id FROM seed)
            UNION SELECT p.id, p.parent_request_id, up.depth + 1 FROM approval_request p JOIN up ON p.id = up.parent_request_id WHERE up.depth < 50
          ), down AS (
            SELECT id, 0 AS depth FROM up
            UNION SELECT c.id, down.depth + 1 FROM approval_request c JOIN down ON c.parent_request_id = down.id WHERE down.depth < 50
          )
          SELECT r.id FROM approval_request r WHERE r.id IN (SELECT id FROM down) ORDER BY r.created_at, r.id LIMIT $3`,
        values: [of.traceId ?? null, of.requestId ?? null, limit],
      });
      if (rows.length === 0) return [];
      const found = (await db.approvalRequest.findMany({ where: { id: { in: rows.map((r) => r.id) } }, include, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] })) as PrismaRow[];
      return found.map(toRecord);
    },

    async pendingForMembers(memberKeys, now, scan) {
      if (memberKeys.length === 0) return [];
      const rows = (await db.approvalRequest.findMany({
        where: { status: 'pending', expiresAt: { gt: now } },
        include,
        orderBy: { createdAt: 'desc' },
        take: scan,
      })) as PrismaRow[];
      const mine = new Set(memberKeys);
      return rows.filter((r) => ((r.requirement as { members?: string[] } | null)?.members ?? []).some((m) => mine.has(m))).map(toRecord);
    },

    async changeSummary(id) {
      const rows = await db.$queryRawUnsafe<{ status: RequestStatus; policy_outcome: PolicyDecision['outcome']; callback_url: string | null; votes: number; cards: string[]; standing: boolean }[]>(
        `SELECT r.status, r.policy_outcome, r.callback_url, (SELECT count(*)::int FROM vote v WHERE v.request_id = r.id) AS votes,
           r.standing_approval_id IS NOT NULL AS standing,
           COALESCE((SELECT array_agg(d.target) FROM delivery d WHERE d.request_id = r.id AND d.kind = 'card' AND d.status = 'delivered'), '{}') AS cards
         FROM approval_request r WHERE r.id = $1::uuid`,
        id,
      );
      const r = rows[0];
      return r ? { status: r.status, policyOutcome: r.policy_outcome, callbackUrl: r.callback_url, voteCount: r.votes, postedCardTargets: r.cards, byStandingApproval: r.standing } : null;
    },

    async recordGrantUse(use, events) {
      const { rows } = await runQuery<{ id: string | null }>(pool, {
        name: 'cs_grant_use',
        text: GRANT_USE_SQL,
        values: [use.requestId, use.at, use.keyId, use.keyName, auditRowsParam(events)],
      });
      return Boolean(rows[0]?.id);
    },

    async pendingCountsByKey() {
      const rows = await db.$queryRawUnsafe<{ api_key_id: string; n: number }[]>(
        `SELECT api_key_id, count(*)::int AS n FROM approval_request WHERE status = 'pending' GROUP BY api_key_id`,
      );
      return new Map(rows.map((r) => [r.api_key_id, r.n]));
    },

    async overdueIds(limit) {
      const rows = await db.$queryRawUnsafe<{ id: string }[]>(
        `SELECT id FROM approval_request WHERE status = 'pending' AND expires_at <= now() ORDER BY expires_at LIMIT $1`,
        limit,
      );
      return rows.map((r) => r.id);
    },

    async awaitingCards(limit) {
      const rows = await db.$queryRawUnsafe<{ id: string; expires_at: Date; open: boolean; targets: string[] }[]>(
        `SELECT r.id, r.expires_at, r.status = 'pending' AS open,
           COALESCE(ARRAY(
             SELECT t FROM (${ASKED_CHANNELS_SQL}) asked(t)
               WHERE r.status = 'pending'
                 AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.request_id = r.id AND d.kind = 'card' AND d.target = t AND d.status <> 'pending')
             UNION
             SELECT d.target FROM delivery d WHERE r.status <> 'pending' AND d.request_id = r.id AND d.kind = 'card' AND d.status = 'pending'), '{}') AS targets
         FROM approval_request r
         WHERE (r.status = 'pending' AND r.expires_at > now())
            OR (r.status <> 'pending' AND r.decided_at > now() - interval '7 days'
                AND EXISTS (SELECT 1 FROM delivery d WHERE d.request_id = r.id AND d.kind = 'card' AND d.status = 'pending'))
         ORDER BY r.created_at LIMIT $1`,
        limit,
      );
      return rows.map((r) => ({ id: r.id, expiresAt: r.open ? new Date(r.expires_at) : null, targets: r.targets }));
    },

    async owingChanges(notifyPlatforms, limit) {
      const staleCard = `EXISTS (SELECT 1 FROM delivery d WHERE d.request_id = r.id AND d.kind = 'card' AND d.status = 'delivered'
                AND d.message_ref->>'renderedVersion' IS DISTINCT FROM ${STATE_VERSION_SQL}
                AND d.message_ref->>'abandonedVersion' IS DISTINCT FROM ${STATE_VERSION_SQL})`;
      const rows = await db.$queryRawUnsafe<{ id: string; status: RequestStatus; votes: number }[]>(
        `SELECT r.id, r.status, (SELECT count(*)::int FROM vote v WHERE v.request_id = r.id) AS votes
         FROM approval_request r
         WHERE (r.status <> 'pending' AND r.decided_at > now() - interval '7 days' AND (
           (r.callback_url IS NOT NULL AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.request_id = r.id AND d.kind = 'callback' AND d.status <> 'pending'))
           OR (r.policy_outcome = 'require' AND r.standing_approval_id IS NULL AND $1::int > 0 AND (SELECT count(*) FROM delivery d WHERE d.request_id = r.id AND d.kind = 'notify' AND d.status <> 'pending') < $1::int)
           OR ${staleCard}))
           OR (r.status = 'pending' AND r.expires_at > now() AND ${staleCard})
         ORDER BY r.decided_at NULLS LAST, r.created_at LIMIT $2`,
        notifyPlatforms,
        limit,
      );
      return rows.map((r) => ({ id: r.id, status: r.status, voteCount: r.votes }));
    },

    async owedExpiryWarnings(limit) {
      const rows = await db.$queryRawUnsafe<{ id: string; warn_at: Date }[]>(
        `SELECT r.id, r.expires_at - make_interval(secs => (r.requirement->>'warnBeforeExpirySeconds')::double precision) AS warn_at
         FROM approval_request r
         WHERE r.status = 'pending' AND r.expires_at > now() AND r.requirement ? 'warnBeforeExpirySeconds'
           AND NOT EXISTS (SELECT 1 FROM audit_event e WHERE e.request_id = r.id AND e.type = '${EXPIRING_EVENT}')
         ORDER BY r.expires_at LIMIT $1`,
        limit,
      );
      return rows.map((r) => ({ id: r.id, warnAt: new Date(r.warn_at) }));
    },

    async remindersOwed(opts) {
      const rows = await db.$queryRawUnsafe<{ id: string; created_at: Date; remind: number[]; cards: string[]; settled: string[] }[]>(
        `SELECT r.id, r.created_at, r.requirement->'remindSeconds' AS remind,
           ARRAY(SELECT d.target FROM delivery d WHERE d.request_id = r.id AND d.kind = 'card' AND d.status = 'delivered') AS cards,
           ARRAY(SELECT d.target FROM delivery d WHERE d.request_id = r.id AND d.kind = 'reminder' AND d.status <> 'pending') AS settled
         FROM approval_request r
         WHERE r.status = 'pending' AND r.expires_at > now() AND r.requirement ? 'remindSeconds' AND ($2::uuid IS NULL OR r.id = $2::uuid)
         ORDER BY r.created_at LIMIT $1`,
        opts.limit,
        opts.requestId ?? null,
      );
      return rows.map((r) => ({ id: r.id, createdAt: new Date(r.created_at), remindSeconds: r.remind, cards: r.cards, settled: r.settled }));
    },

    async escalationsOwed(limit) {
      const rows = await db.$queryRawUnsafe<{ id: string; due_at: Date }[]>(
        `SELECT r.id, r.created_at + make_interval(secs => (r.requirement->'escalate'->>'afterSeconds')::double precision) AS due_at
         FROM approval_request r
         WHERE r.status = 'pending' AND r.expires_at > now() AND r.requirement ? 'escalate' AND NOT r.requirement ? 'escalatedAt'
         ORDER BY r.created_at LIMIT $1`,
        limit,
      );
      return rows.map((r) => ({ id: r.id, dueAt: new Date(r.due_at) }));
    },

    async recordExpiryWarning(id, now, events) {
      return withTransaction(pool, async (sql) => {
        // The row lock serializes workers racing on the same warning, so the NOT EXISTS below sees the other's event.
        const { rows } = await runQuery<{ status: RequestStatus; expires_at: Date; callback_url: string | null }>(
          sql, 'SELECT status, expires_at, callback_url FROM approval_request WHERE id = $1::uuid FOR UPDATE', [id],
        );
        const r = rows[0];
        if (!r || r.status !== 'pending' || r.expires_at <= now) return null;
        const warned = await runQuery(sql, `SELECT 1 FROM audit_event WHERE request_id = $1::uuid AND type = '${EXPIRING_EVENT}' LIMIT 1`, [id]);
        if (warned.rows.length) return null;
        await appendAuditEvents(sql, events({ expiresAt: r.expires_at, callbackUrl: r.callback_url }));
        return r.expires_at;
      });
    },
  };
}
