/** Reading requests: one request with its votes and deliveries, filtered lists, and the long-poll wait. */
import { AppError } from '../domain/app-error';
import type { CountedVote, RequestStatus } from '../domain/approval';
import { buildApprovalView, type ApprovalView } from '../domain/approval-view';
import type { StoredContext } from '../domain/context-values';
import type { PersonIdentity } from '../domain/identity';
import type { ReasonMode, Risk } from '../domain/policy';
import type { RequestEvents } from '../ports/job-queue';
import type { Database } from '../store/database';
import type { ApiPrincipal } from './api-key-service';
import { requestLinks } from './intake-service';

export interface RequestDetail {
  id: string;
  status: RequestStatus;
  action: string;
  resource: string;
  requester: PersonIdentity & { type: string; model?: string };
  onBehalfOf: PersonIdentity | null;
  justification: string | null;
  context: StoredContext;
  risk: Risk | null;
  environment: string | null;
  traceId: string | null;
  parentRequestId: string | null;
  callbackUrl: string | null;
  submittedBy: { apiKey: string; owner: string | null };
  policy: { rule: string; outcome: string; hash: string; requirement: unknown };
  approvals: { required: number; received: number };
  votes: { approver: PersonIdentity; personKey: string; channel: string; decision: string; reason: string | null; at: string }[];
  deliveries: { kind: string; target: string; status: string; attempts: number; lastError: string | null; updatedAt: string }[];
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  decisionReason: string | null;
  outcomeReport: unknown;
  links: Record<string, string>;
}

export interface ListFilter {
  status?: RequestStatus;
  action?: string;
  requester?: string;
  traceId?: string;
  /** Only requests this API key submitted. */
  apiKeyId?: string;
}

export interface RequestQueryService {
  get(id: string): Promise<RequestDetail>;
  /** Like {@link get} but waits (up to `waitMs`) for a pending request to change state. */
  getWhenDecided(id: string, waitMs: number, signal?: AbortSignal): Promise<RequestDetail>;
  list(filter: ListFilter, page: { limit: number; cursor?: string }): Promise<{ items: RequestDetail[]; nextCursor: string | null }>;
  /** The channel-neutral card content for chat adapters. */
  view(id: string): Promise<ApprovalView>;
  /** Pending requests this person could vote on (chat `pending` command). */
  pendingFor(identityKeys: string[], limit: number): Promise<ApprovalView[]>;
}

/** Who may read a request: keys with `decide` or `audit` read all; others read what they submitted. */
export function canRead(principal: ApiPrincipal, detail: Pick<RequestDetail, 'submittedBy'>): boolean {
  return principal.scopes.includes('audit') || principal.scopes.includes('decide') || detail.submittedBy.apiKey === principal.name;
}

const include = { votes: { orderBy: { createdAt: 'asc' as const } }, deliveries: { orderBy: { createdAt: 'asc' as const } } };
type Row = NonNullable<Awaited<ReturnType<Database['approvalRequest']['findUnique']>>> & {
  votes: { personKey: string; approver: unknown; channel: string; decision: string; reason: string | null; createdAt: Date }[];
  deliveries: { kind: string; target: string; status: string; attempts: number; lastError: string | null; updatedAt: Date }[];
};

export function createRequestQueryService(deps: {
  db: Pick<Database, 'approvalRequest'>;
  events: Pick<RequestEvents, 'waitForChange'>;
  baseUrl: string;
  clock?: () => Date;
}): RequestQueryService {
  const clock = deps.clock ?? (() => new Date());

  const notFound = (id: string) => new AppError('not_found', 404, `No request with id ${id}.`, { field: 'id' });
  const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

  async function load(id: string): Promise<Row> {
    if (!isUuid(id)) throw notFound(id);
    const row = (await deps.db.approvalRequest.findUnique({ where: { id }, include })) as Row | null;
    if (!row) throw notFound(id);
    return row;
  }

  function countedVotes(row: Row): CountedVote[] {
    return row.votes.map((v) => ({ personKey: v.personKey, approver: v.approver as PersonIdentity, channel: v.channel as CountedVote['channel'], decision: v.decision as CountedVote['decision'], reason: v.reason, at: v.createdAt }));
  }

  function toDetail(row: Row): RequestDetail {
    const votes = countedVotes(row);
    return {
      id: row.id,
      // A pending request past its expiry reads as expired even before the timer or reconciler records it.
      status: row.status === 'pending' && row.expiresAt.getTime() <= clock().getTime() ? 'expired' : (row.status as RequestStatus),
      action: row.action,
      resource: row.resource,
      requester: row.requester as unknown as RequestDetail['requester'],
      onBehalfOf: (row.onBehalfOf as PersonIdentity | null) ?? null,
      justification: row.justification,
      context: row.context as StoredContext,
      risk: row.risk as Risk | null,
      environment: row.environment,
      traceId: row.traceId,
      parentRequestId: row.parentRequestId,
      callbackUrl: row.callbackUrl,
      submittedBy: { apiKey: row.apiKeyName, owner: row.keyOwnerEmail },
      policy: { rule: row.policyRule, outcome: row.policyOutcome, hash: row.policyHash, requirement: row.requirement },
      approvals: { required: row.approvalsRequired, received: new Set(votes.filter((v) => v.decision === 'approve').map((v) => v.personKey)).size },
      votes: votes.map((v) => ({ approver: v.approver, personKey: v.personKey, channel: v.channel, decision: v.decision, reason: v.reason ?? null, at: v.at.toISOString() })),
      deliveries: row.deliveries.map((d) => ({ kind: d.kind, target: d.target, status: d.status, attempts: d.attempts, lastError: d.lastError, updatedAt: d.updatedAt.toISOString() })),
      createdAt: row.createdAt.toISOString(),
      expiresAt: row.expiresAt.toISOString(),
      decidedAt: row.decidedAt?.toISOString() ?? null,
      decidedBy: row.decidedBy,
      decisionReason: row.decisionReason,
      outcomeReport: row.outcomeReport ?? null,
      links: requestLinks(deps.baseUrl, row.id),
    };
  }

  function toView(row: Row): ApprovalView {
    return buildApprovalView(
      {
        id: row.id,
        status: row.status as RequestStatus,
        action: row.action,
        resource: row.resource,
        environment: row.environment,
        risk: row.risk as Risk | null,
        justification: row.justification,
        requester: row.requester as unknown as ApprovalView['requester'],
        onBehalfOf: (row.onBehalfOf as PersonIdentity | null) ?? null,
        context: row.context as StoredContext,
        policyRule: row.policyRule,
        approvalsRequired: row.approvalsRequired,
        requirement: row.requirement as { approvers: string[]; reason: ReasonMode } | null,
        createdAt: row.createdAt,
        expiresAt: row.expiresAt,
        decidedAt: row.decidedAt,
        decidedBy: row.decidedBy,
        decisionReason: row.decisionReason,
        traceId: row.traceId,
      },
      countedVotes(row),
    );
  }

  return {
    async get(id) {
      return toDetail(await load(id));
    },

    async getWhenDecided(id, waitMs, signal) {
      const deadline = Date.now() + waitMs;
      let detail = toDetail(await load(id));
      while (detail.status === 'pending' && Date.now() < deadline && !signal?.aborted) {
        // Re-read at least every few seconds: a change published while we were between reads is never missed for long.
        await deps.events.waitForChange(id, Math.min(deadline - Date.now(), 5_000), signal);
        detail = toDetail(await load(id));
      }
      return detail;
    },

    async list(filter, page) {
      let cursor: { createdAt: Date; id: string } | undefined;
      if (page.cursor) {
        const [ms, id] = Buffer.from(page.cursor, 'base64url').toString().split('|');
        if (!ms || !id || !isUuid(id) || Number.isNaN(Number(ms))) throw new AppError('invalid_cursor', 400, 'Invalid field `cursor`: not a cursor this API returned.', { field: 'cursor' });
        cursor = { createdAt: new Date(Number(ms)), id };
      }
      const where = {
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.action ? { action: filter.action } : {}),
        ...(filter.requester ? { OR: [{ requesterId: filter.requester }, { requesterEmail: filter.requester.toLowerCase() }] } : {}),
        ...(filter.traceId ? { traceId: filter.traceId } : {}),
        ...(filter.apiKeyId ? { apiKeyId: filter.apiKeyId } : {}),
        ...(cursor ? { AND: [{ OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] }] } : {}),
      };
      const rows = (await deps.db.approvalRequest.findMany({ where, include, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: page.limit + 1 })) as Row[];
      const items = rows.slice(0, page.limit).map(toDetail);
      const last = rows.length > page.limit ? rows[page.limit - 1] : undefined;
      return { items, nextCursor: last ? Buffer.from(`${last.createdAt.getTime()}|${last.id}`).toString('base64url') : null };
    },

    async view(id) {
      return toView(await load(id));
    },

    async pendingFor(identityKeys, limit) {
      if (identityKeys.length === 0) return [];
      const rows = (await deps.db.approvalRequest.findMany({
        where: { status: 'pending', expiresAt: { gt: clock() } },
        include,
        orderBy: { createdAt: 'desc' },
        take: 500,
      })) as Row[];
      const mine = new Set(identityKeys);
      return rows
        .filter((r) => ((r.requirement as { members?: string[] } | null)?.members ?? []).some((m) => mine.has(m)))
        .filter((r) => !r.votes.some((v) => mine.has(v.personKey)))
        .slice(0, limit)
        .map(toView);
    },
  };
}
