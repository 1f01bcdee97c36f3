/**
 * The lineage of an agent run (`GET /v1/lineage`, the console's lineage view): the requests of one trace or around one
 * request, linked parent to child, with what happened to each (votes, decision, grant, its use, the outcome report) and
 * one timeline. The caller says which requests its reader may see; the others are left out of the graph entirely.
 */
import { requestNotFound } from '../domain/app-error';
import { displayName } from '../domain/identity';
import { DEFAULT_GRANT_TTL_SECONDS } from '../domain/grant';
import { effectiveStatus } from '../domain/request-lifecycle';
import type { RequestRecord, RequestStore } from '../store/request-store';

/** Requests in one answer: a run larger than this keeps its oldest requests and is marked truncated. */
export const LINEAGE_LIMIT = 500;

export type LineageEventKind = 'submitted' | 'vote' | 'decided' | 'grant_used' | 'outcome';

export interface LineageRequest {
  id: string;
  parentRequestId: string | null;
  traceId: string | null;
  children: string[];
  action: string;
  resource: string;
  requester: { id: string; type: RequestRecord['requester']['type'] };
  submittedBy: string;
  status: RequestRecord['status'];
  risk: RequestRecord['risk'];
  environment: string | null;
  policy: { rule: string; outcome: string };
  createdAt: string;
  expiresAt: string;
  votes: { person: string; approver: RequestRecord['votes'][number]['approver']; channel: string; decision: 'approve' | 'deny'; reason: string | null; at: string }[];
  decision: { status: RequestRecord['status']; by: string | null; reason: string | null; at: string } | null;
  grant: { issuedAt: string; expiresAt: string } | null;
  grantUse: { usedAt: string; key: string } | null;
  outcome: { status: string; detail: string | null; reportedAt: string | null } | null;
}

export interface Lineage {
  traceId: string | null;
  roots: string[];
  requests: LineageRequest[];
  edges: { parent: string; child: string }[];
  timeline: { at: string; requestId: string; kind: LineageEventKind; summary: string }[];
  truncated: boolean;
}

export interface LineageService {
  /**
   * The graph around `of`. `visible` decides which requests the reader may see.
   * @throws AppError `not_found` when `requestId` is unknown or not visible (a trace with nothing visible is empty).
   */
  lineage(of: { traceId?: string; requestId?: string }, visible: (r: RequestRecord) => boolean): Promise<Lineage>;
}

export function createLineageService(deps: { requests: Pick<RequestStore, 'lineage'>; clock?: () => Date }): LineageService {
  const clock = deps.clock ?? (() => new Date());
  return {
    async lineage(of, visible) {
      const all = await deps.requests.lineage(of, LINEAGE_LIMIT + 1);
      const truncated = all.length > LINEAGE_LIMIT;
      const records = all.slice(0, LINEAGE_LIMIT).filter(visible);
      if (of.requestId && !records.some((r) => r.id === of.requestId)) throw requestNotFound(of.requestId);
      const ids = new Set(records.map((r) => r.id));
      const edges = records.filter((r) => r.parentRequestId && ids.has(r.parentRequestId)).map((r) => ({ parent: r.parentRequestId!, child: r.id }));
      const now = clock();
      const timeline: Lineage['timeline'] = [];
      const requests = records.map((r): LineageRequest => {
        const status = effectiveStatus(r, now);
        const outcome = r.outcomeReport as { status?: string; detail?: string; reportedAt?: string } | null;
        const grant = r.status === 'approved' && r.decidedAt
          ? { issuedAt: r.decidedAt.toISOString(), expiresAt: new Date(r.decidedAt.getTime() + (r.grantTtlSeconds ?? DEFAULT_GRANT_TTL_SECONDS) * 1000).toISOString() }
          : null;
        timeline.push({ at: r.createdAt.toISOString(), requestId: r.id, kind: 'submitted', summary: `${r.requester.id} asked for ${r.action} on ${r.resource} (policy: ${r.policyRule} → ${r.policyOutcome})` });
        for (const v of r.votes) timeline.push({ at: v.at.toISOString(), requestId: r.id, kind: 'vote', summary: `${displayName(v.approver)} voted ${v.decision} via ${v.channel}` });
        if (r.decidedAt) timeline.push({ at: r.decidedAt.toISOString(), requestId: r.id, kind: 'decided', summary: `${r.status}${r.decidedBy ? ` by ${r.decidedBy}` : ''}` });
        if (r.grantUse) timeline.push({ at: r.grantUse.usedAt.toISOString(), requestId: r.id, kind: 'grant_used', summary: `grant used by key ${r.grantUse.keyName}` });
        if (outcome?.status) timeline.push({ at: outcome.reportedAt ?? (r.decidedAt ?? r.createdAt).toISOString(), requestId: r.id, kind: 'outcome', summary: `reported ${outcome.status}` });
        return {
          id: r.id, parentRequestId: r.parentRequestId, traceId: r.traceId,
          children: edges.filter((e) => e.parent === r.id).map((e) => e.child),
          action: r.action, resource: r.resource, requester: { id: r.requester.id, type: r.requester.type }, submittedBy: r.apiKeyName,
          status, risk: r.risk, environment: r.environment, policy: { rule: r.policyRule, outcome: r.policyOutcome },
          createdAt: r.createdAt.toISOString(), expiresAt: r.expiresAt.toISOString(),
          votes: r.votes.map((v) => ({ person: v.personKey, approver: v.approver, channel: v.channel, decision: v.decision, reason: v.reason, at: v.at.toISOString() })),
          decision: r.decidedAt ? { status: r.status, by: r.decidedBy, reason: r.decisionReason, at: r.decidedAt.toISOString() } : null,
          grant,
          grantUse: r.grantUse ? { usedAt: r.grantUse.usedAt.toISOString(), key: r.grantUse.keyName } : null,
          outcome: outcome?.status ? { status: outcome.status, detail: outcome.detail ?? null, reportedAt: outcome.reportedAt ?? null } : null,
        };
      });
      timeline.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
      return { traceId: of.traceId ?? traceOf(of.requestId!, records), roots: records.filter((r) => !r.parentRequestId || !ids.has(r.parentRequestId)).map((r) => r.id), requests, edges, timeline, truncated };
    },
  };
}

/** The trace of a request: its own, else the nearest ancestor's in the graph (bounded like the walk). */
function traceOf(requestId: string, records: RequestRecord[]): string | null {
  const byId = new Map(records.map((r) => [r.id, r]));
  let r = byId.get(requestId);
  for (let depth = 0; r && depth <= 50; depth++) {
    if (r.traceId) return r.traceId;
    r = r.parentRequestId ? byId.get(r.parentRequestId) : undefined;
  }
  return null;
}
