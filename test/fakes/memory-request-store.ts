/**
 * An in-memory request store implementing the locked-change part of {@link RequestStore}, for fast tests of the
 * decision service's logic. Changes are serialised per request like the row lock, and a change that throws leaves
 * nothing behind (a rollback).
 */
import type { CountedVote } from '../../src/domain/approval';
import type { AuditEventInput } from '../../src/domain/audit-event';
import { requestNotFound } from '../../src/domain/app-error';
import type { LockedRequest, RequestStore, RequestTransaction } from '../../src/store/request-store';

export interface MemoryRequest extends Omit<LockedRequest, 'votes'> {
  decidedAt: Date | null;
  decidedBy: string | null;
  decisionReason: string | null;
}

export function createMemoryRequestStore(): Pick<RequestStore, 'change'> & {
  requests: Map<string, MemoryRequest>;
  votes: Map<string, CountedVote[]>;
  audit: AuditEventInput[];
} {
  const requests = new Map<string, MemoryRequest>();
  const votes = new Map<string, CountedVote[]>();
  const audit: AuditEventInput[] = [];
  const locks = new Map<string, Promise<unknown>>();

  return {
    requests,
    votes,
    audit,
    async change(id, fn) {
      const previous = locks.get(id) ?? Promise.resolve();
      const run = previous.catch(() => undefined).then(async () => {
        const row = requests.get(id);
        if (!row) throw requestNotFound(id);
        // Work on copies; publish them only when fn succeeds (commit).
        const draft = { ...row };
        const draftVotes = [...(votes.get(id) ?? [])];
        const draftAudit: AuditEventInput[] = [];
        const tx: RequestTransaction = {
          request: { ...row, votes: [...draftVotes] },
          async insertVote(v) {
            if (draftVotes.some((x) => x.personKey === v.personKey)) throw Object.assign(new Error('duplicate vote'), { code: '23505' });
            draftVotes.push(v);
          },
          async transition(to, at, by, reason) {
            if (draft.status !== 'pending') return false;
            Object.assign(draft, { status: to, decidedAt: at, decidedBy: by, decisionReason: reason });
            return true;
          },
          async setOutcomeReport(report) {
            if (!draft.outcomeReport) draft.outcomeReport = report;
          },
          async createStandingApproval() {
            // Standing approvals live in PostgreSQL only; the API tests cover them.
          },
          async setStage() {
            // The memory store keeps no card read-out; the stage is derived from the votes.
          },
          async appendAudit(events) {
            draftAudit.push(...events);
          },
          async replaceRequirement(requirement) {
            if (draft.status !== 'pending') return false;
            draft.requirement = requirement;
            return true;
          },
        };
        const result = await fn(tx);
        requests.set(id, draft);
        votes.set(id, draftVotes);
        audit.push(...draftAudit);
        return result;
      });
      locks.set(id, run);
      return run as never;
    },
  };
}
