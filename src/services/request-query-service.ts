/** Reading requests: one request with its votes and deliveries, filtered lists, the long-poll wait, and card views. */
import { AppError, requestNotFound } from '../domain/app-error';
import { isUuid, LAST_TIME_MS } from '../domain/ids';
import { buildApprovalView, type ApprovalView } from '../domain/approval-view';
import { stageProgress } from '../domain/approval';
import type { StoredContext } from '../domain/context-values';
import type { PersonIdentity, RequesterIdentity } from '../domain/identity';
import type { Requirement, Risk } from '../domain/policy';
import { countApprovals, effectiveStatus, type RequestStatus } from '../domain/request-lifecycle';
import type { RequestEvents } from '../ports/job-queue';
import type { InboxFilter, RequestListFilter, RequestRecord, RequestStore } from '../store/request-store';
import type { ApiPrincipal } from './api-key-service';
import type { ApprovedRequest } from '../domain/grant';
import type { GrantAuthority } from '../evidence/grants';
import { requestLinks, type RequestLinks } from './intake-service';

export interface RequestDetail {
  id: string;
  status: RequestStatus;
  action: string;
  resource: string;
  requester: RequesterIdentity;
  onBehalfOf: PersonIdentity | null;
  justification: string | null;
  context: StoredContext;
  risk: Risk | null;
  environment: string | null;
  traceId: string | null;
  parentRequestId: string | null;
  callbackUrl: string | null;
  submittedBy: { apiKey: string; owner: string | null };
  people: { requester: string | null; onBehalfOf: string | null; keyOwner: string | null };
  pinnedFields: string[];
  policy: { rule: string; outcome: string; hash: string; requirement: Requirement | null };
  approvals: { required: number; received: number };
  votes: { approver: PersonIdentity; personKey: string; channel: string; decision: 'approve' | 'deny'; reason: string | null; at: string; attestedBy: string | null }[];
  deliveries: { kind: string; target: string; status: string; attempts: number; lastError: string | null; updatedAt: string }[];
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  decisionReason: string | null;
  /** The standing approval that approved it at once, when one did. */
  standingApprovalId: string | null;
  outcomeReport: unknown;
  /** The approval grant (compact JWS) of an approved request; null otherwise. */
  grant: string | null;
  /** When the grant was used, and by which key. */
  grantUse: { usedAt: string; key: string } | null;
  links: RequestLinks;
}

export type ListFilter = RequestListFilter;

export interface RequestQueryService {
  get(id: string): Promise<RequestDetail>;
  /**
   * Like {@link get} but waits (up to `waitMs`) for a pending request to change state. `authorize` sees the request
   * first (throw to refuse); `beforeWait` runs once, only when there is something to wait for (throw to refuse).
   */
  getWhenDecided(id: string, waitMs: number, opts?: { signal?: AbortSignal; authorize?: (detail: RequestDetail) => void; beforeWait?: () => Promise<void> }): Promise<RequestDetail>;
  list(filter: ListFilter, page: { limit: number; cursor?: string }): Promise<{ items: RequestDetail[]; nextCursor: string | null }>;
  /** The channel-neutral card content for chat adapters. */
  view(id: string): Promise<ApprovalView>;
  /** The web console's inbox of a person: pending requests they may still decide, newest first (keyset pages). */
  inbox(personId: string, filter: InboxFilter, page: { limit: number; cursor?: string }): Promise<{ items: RequestDetail[]; nextCursor: string | null }>;
  /** What a person voted on, newest first (keyset pages), with grants of the approved ones. */
  votedBy(personId: string, page: { limit: number; cursor?: string }): Promise<{ items: RequestDetail[]; nextCursor: string | null }>;
  /** Pending requests this person could vote on (chat `pending` command). */
  pendingFor(identityKeys: string[], limit: number): Promise<ApprovalView[]>;
}

/** Who may read a request: keys with `decide` or `audit` read all; others read what they submitted. */
export function canRead(principal: ApiPrincipal, detail: Pick<RequestDetail, 'submittedBy'>): boolean {
  return seesAllRequests(principal) || detail.submittedBy.apiKey === principal.name;
}

/** Keys with `decide`, `attest` or `audit` see every request; others only their own submissions. */
export function seesAllRequests(principal: ApiPrincipal): boolean {
  return principal.scopes.includes('audit') || principal.scopes.includes('decide') || principal.scopes.includes('attest');
}

/** Opaque list cursor: the last item's creation time and id. */
function encodeCursor(r: Pick<RequestRecord, 'createdAt' | 'id'>): string {
  return Buffer.from(`${r.createdAt.getTime()}|${r.id}`).toString('base64url');
}
function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [ms, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const time = Number(ms);
  // Only times a stored row can have: a digit string within what PostgreSQL and ISO 8601 hold.
  if (!ms || !/^\d{1,15}$/.test(ms) || time > LAST_TIME_MS || !id || !isUuid(id)) {
    throw new AppError('invalid_cursor', 'Invalid field `cursor`: not a cursor this API returned.', { field: 'cursor' });
  }
  return { createdAt: new Date(time), id };
}

/** The members of the stage a staged requirement is asking now. */
function askedNow(requirement: Requirement, votes: RequestRecord['votes']): string[] {
  const progress = stageProgress(requirement, votes);
  return progress.stages[progress.current]?.members ?? [];
}

/** How many pending requests the chat `pending` command examines before filtering by membership. */
const PENDING_SCAN = 500;

export function createRequestQueryService(deps: {
  requests: Pick<RequestStore, 'get' | 'list' | 'pendingForMembers' | 'inbox' | 'votedBy'>;
  /** Issues the grants of approved requests. */
  grants: Pick<GrantAuthority, 'issue'>;
  events: Pick<RequestEvents, 'watch'>;
  baseUrl: string;
  clock?: () => Date;
}): RequestQueryService {
  const clock = deps.clock ?? (() => new Date());

  /**
   * Reads shared by every caller within one turn of the event loop: the waiters one change wakes all resume in the turn
   * that delivered the notification, so they share a read that started after the change. The entry is dropped at the
   * end of that turn, so a later caller never gets a read that started before a later change.
   */
  const sharedReads = new Map<string, Promise<RequestRecord>>();
  function reloadShared(id: string): Promise<RequestRecord> {
    let p = sharedReads.get(id);
    if (!p) {
      p = load(id);
      sharedReads.set(id, p);
      setImmediate(() => sharedReads.delete(id));
    }
    return p;
  }

  async function load(id: string): Promise<RequestRecord> {
    const record = isUuid(id) ? await deps.requests.get(id) : null;
    if (!record) throw requestNotFound(id);
    return record;
  }

  function toDetail(r: RequestRecord): RequestDetail {
    return {
      id: r.id,
      status: effectiveStatus(r, clock()),
      action: r.action,
      resource: r.resource,
      requester: r.requester,
      onBehalfOf: r.onBehalfOf,
      justification: r.justification,
      context: r.context,
      risk: r.risk,
      environment: r.environment,
      traceId: r.traceId,
      parentRequestId: r.parentRequestId,
      callbackUrl: r.callbackUrl,
      submittedBy: { apiKey: r.apiKeyName, owner: r.keyOwner },
      people: { requester: r.requesterPerson, onBehalfOf: r.onBehalfOfPerson, keyOwner: r.keyOwnerPerson },
      pinnedFields: r.pinnedFields,
      policy: { rule: r.policyRule, outcome: r.policyOutcome, hash: r.policyHash, requirement: r.requirement },
      approvals: { required: r.approvalsRequired, received: countApprovals(r.votes) },
      votes: r.votes.map((v) => ({ approver: v.approver, personKey: v.personKey, channel: v.channel, decision: v.decision, reason: v.reason, at: v.at.toISOString(), attestedBy: v.attestedBy ?? null })),
      deliveries: r.deliveries.map((d) => ({
        kind: d.kind,
        target: d.target,
        status: d.status,
        attempts: d.attempts,
        // A callback's failure detail would tell the agent what answers at the URL it chose (a port and status oracle
        // into our network): the agent sees only that it failed; the detail is in the audit trail and the logs.
        lastError: d.kind === 'callback' && d.lastError ? 'callback failed (details in the audit trail)' : d.lastError,
        updatedAt: d.updatedAt.toISOString(),
      })),
      createdAt: r.createdAt.toISOString(),
      expiresAt: r.expiresAt.toISOString(),
      decidedAt: r.decidedAt?.toISOString() ?? null,
      decidedBy: r.decidedBy,
      decisionReason: r.decisionReason,
      standingApprovalId: r.standingApprovalId ?? null,
      outcomeReport: r.outcomeReport,
      grant: null,
      grantUse: r.grantUse ? { usedAt: r.grantUse.usedAt.toISOString(), key: r.grantUse.keyName } : null,
      links: requestLinks(deps.baseUrl, r.id),
    };
  }

  /** The detail with its grant: approved requests only (denied, expired and cancelled ones never have one). */
  async function withGrant(r: RequestRecord): Promise<RequestDetail> {
    const detail = toDetail(r);
    const approved = detail.status === 'approved' ? approvedRequestOf(r) : null;
    return approved ? { ...detail, grant: await deps.grants.issue(approved) } : detail;
  }

  function toView(r: RequestRecord): ApprovalView {
    const links = requestLinks(deps.baseUrl, r.id);
    return buildApprovalView({ ...r, status: effectiveStatus(r, clock()), links: { request: links.self, audit: links.audit } }, r.votes);
  }

  return {
    async get(id) {
      return withGrant(await load(id));
    },

    async getWhenDecided(id, waitMs, opts = {}) {
      const { signal } = opts;
      const deadline = Date.now() + waitMs;
      let waiting = false;
      for (let first = true; ; first = false) {
        // Watch first, read second: a change committed between the two still wakes us.
        const watch = deps.events.watch(id);
        try {
          // Every waiter woken by the same change shares one fresh read instead of each reading the request again.
          const record = first ? await load(id) : await reloadShared(id);
          const detail = toDetail(record);
          if (first) opts.authorize?.(detail);
          if (detail.status !== 'pending' || signal?.aborted || Date.now() >= deadline) return withGrant(record);
          if (!waiting) {
            await opts.beforeWait?.();
            waiting = true;
          }
          // Wait on the notification alone (no periodic re-reads: a waiting long-poll costs the database nothing), and
          // at most until the request's own expiry, which no notification may announce in time.
          const expiresAt = Date.parse(detail.expiresAt);
          const changed = await watch.changed(Math.max(0, Math.min(deadline, expiresAt) - Date.now()), signal);
          if (changed) continue;
          return Date.now() >= expiresAt ? { ...detail, status: effectiveStatus({ status: detail.status, expiresAt: new Date(expiresAt) }, clock()) } : detail;
        } finally {
          watch.close();
        }
      }
    },

    async list(filter, page) {
      const after = page.cursor ? decodeCursor(page.cursor) : undefined;
      const rows = await deps.requests.list(filter, { limit: page.limit + 1, after });
      const items = rows.slice(0, page.limit);
      const last = rows.length > page.limit ? items[items.length - 1] : undefined;
      return { items: await Promise.all(items.map(withGrant)), nextCursor: last ? encodeCursor(last) : null };
    },

    async inbox(personId, filter, page) {
      const after = page.cursor ? decodeCursor(page.cursor) : undefined;
      const rows = await deps.requests.inbox(personId, filter, { limit: page.limit + 1, after }, clock());
      const items = rows.slice(0, page.limit);
      const last = rows.length > page.limit ? items[items.length - 1] : undefined;
      // Pending requests have no grant: no signing on this path.
      return { items: items.map(toDetail), nextCursor: last ? encodeCursor(last) : null };
    },

    async votedBy(personId, page) {
      const after = page.cursor ? decodeCursor(page.cursor) : undefined;
      const rows = await deps.requests.votedBy(personId, { limit: page.limit + 1, after });
      const items = rows.slice(0, page.limit);
      const last = rows.length > page.limit ? items[items.length - 1] : undefined;
      return { items: await Promise.all(items.map(withGrant)), nextCursor: last ? encodeCursor(last) : null };
    },

    async view(id) {
      return toView(await load(id));
    },

    async pendingFor(identityKeys, limit) {
      const mine = new Set(identityKeys);
      const rows = await deps.requests.pendingForMembers(identityKeys, clock(), PENDING_SCAN);
      return rows
        .filter((r) => !r.votes.some((v) => mine.has(v.personKey)))
        // A staged request waits only on the stage being asked: a later stage's approvers are not asked yet.
        .filter((r) => !r.requirement?.stages?.length || askedNow(r.requirement, r.votes).some((m) => mine.has(m)))
        .slice(0, limit)
        .map(toView);
    },
  };
}

/**
 * What the grant of a stored request binds, when it may have one: approved (the stored status, not expiry-adjusted:
 * an approved request stays approved) with its decision time and the hash of what was submitted.
 */
export function approvedRequestOf(r: RequestRecord): ApprovedRequest | null {
  if (r.status !== 'approved' || !r.decidedAt || !r.actionHash) return null;
  return {
    id: r.id, action: r.action, resource: r.resource, requesterId: r.requester.id, actionHash: r.actionHash, policyHash: r.policyHash,
    policyRule: r.policyRule, decidedAt: r.decidedAt, grantTtlSeconds: r.grantTtlSeconds,
    approvers: r.votes.filter((v) => v.decision === 'approve').map((v) => v.personKey),
  };
}
