/**
 * Standing approvals as people see and end them: the list (`GET /v1/standing-approvals`) and revocation by any approver
 * of the rule it was granted under (`POST /v1/standing-approvals/:id/revoke`), audited on the request that created it.
 * Creating one is a vote (decision-service); drawing on one is intake's.
 */
import { AppError } from '../domain/app-error';
import { personActor } from '../domain/audit-event';
import type { StandingApprovalRecord, StandingApprovalStore } from '../store/standing-approval-store';
import type { DecisionService, VoteInput } from './decision-service';

export interface StandingApprovalView {
  id: string;
  requestId: string;
  rule: string;
  action: string;
  resource: string;
  environment: string | null;
  requester: { id: string; type: string };
  grantedBy: { person: string; label: string };
  maxUses: number;
  usesLeft: number;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  /** Usable now: not revoked, not expired, uses left. */
  active: boolean;
}

export interface StandingApprovalService {
  list(opts: { all: boolean; limit: number }): Promise<StandingApprovalView[]>;
  /**
   * The active standing approvals a person may see in the console or chat: those of rules they approve (they may revoke
   * each), or every active one when `everyone` (auditors), each saying whether this person may revoke it.
   */
  listFor(person: string, opts: { everyone: boolean; limit: number }): Promise<(StandingApprovalView & { mayRevoke: boolean })[]>;
  /** Revokes it when the approver is one of the rule's approvers it was granted under. */
  revoke(id: string, approver: Pick<VoteInput, 'presented' | 'approver' | 'channel' | 'viaKey' | 'person'>, reason?: string): Promise<StandingApprovalView>;
}

export function createStandingApprovalService(deps: {
  standing: Pick<StandingApprovalStore, 'list' | 'get' | 'revoke'>;
  decisions: Pick<DecisionService, 'identifyApprover'>;
  clock?: () => Date;
}): StandingApprovalService {
  const clock = deps.clock ?? (() => new Date());
  const view = (r: StandingApprovalRecord): StandingApprovalView => {
    const now = clock();
    return {
      id: r.id, requestId: r.requestId, rule: r.rule, action: r.action, resource: r.resource, environment: r.environment,
      requester: { id: r.requesterId, type: r.requesterType }, grantedBy: { person: r.grantedBy, label: r.grantedByLabel },
      maxUses: r.maxUses, usesLeft: r.usesLeft, createdAt: r.createdAt.toISOString(), expiresAt: r.expiresAt.toISOString(),
      revokedAt: r.revokedAt?.toISOString() ?? null, revokedBy: r.revokedBy,
      active: !r.revokedAt && r.usesLeft > 0 && r.expiresAt.getTime() > now.getTime(),
    };
  };
  const notFound = (id: string) => new AppError('not_found', `No standing approval with id ${id}.`, { field: 'id' });

  return {
    async list({ all, limit }) {
      return (await deps.standing.list({ activeAt: all ? undefined : clock(), limit })).map(view);
    },

    async listFor(person, { everyone, limit }) {
      const rows = await deps.standing.list({ activeAt: clock(), limit, ...(everyone ? {} : { approver: person }) });
      return rows.map((r) => ({ ...view(r), mayRevoke: r.approvers.includes(person) }));
    },

    async revoke(id, approver, reason) {
      const voter = await deps.decisions.identifyApprover(approver);
      const at = clock();
      const existing = await deps.standing.get(id);
      if (!existing) throw notFound(id);
      const outcome = await deps.standing.revoke(id, voter.personId, at, [{
        type: 'standing_approval.revoked', requestId: existing.requestId,
        actor: { ...personActor(voter.approver, voter.personId), ...(voter.viaKey ? { via: `key:${voter.viaKey.name}` } : {}) },
        channel: approver.channel, at, data: { standingApprovalId: id, by: voter.personId, reason: reason ?? null, usesLeft: existing.usesLeft },
      }]);
      if (outcome === 'not_found') throw notFound(id);
      if (outcome === 'not_approver') throw new AppError('not_revocable', 'Only an approver of the rule this standing approval was granted under can revoke it.');
      if (outcome === 'already_revoked') throw new AppError('already_revoked', 'This standing approval was already revoked.');
      return view((await deps.standing.get(id))!);
    },
  };
}
