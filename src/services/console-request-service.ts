/**
 * Requests as the web console shows and decides them: who may see what (auditors everything; approvers what they may
 * decide and what they voted on), the inbox, a request's page (votes, deliveries, grant, outcome, its audit events with
 * whether each is sealed into a signed checkpoint), and deciding in the browser as the `web` channel through the same
 * decision service as every other channel, after the step-up check for high and critical requests.
 */
import { AppError, requestNotFound } from '../domain/app-error';
import type { PersonIdentity } from '../domain/identity';
import type { Policy, Requirement, Risk } from '../domain/policy';
import type { CheckpointView, TransparencyLog } from '../evidence/transparency-log';
import type { InboxFilter } from '../store/request-store';
import { globToLike, type AuditRecord, type AuditService } from './audit-service';
import type { ConsoleUser } from './console-session-service';
import type { DecisionService } from './decision-service';
import type { DirectoryService } from './directory-service';
import type { RequestDetail, RequestQueryService } from './request-query-service';

/** Risks whose decision needs a recent IdP sign-in. */
const STEP_UP_RISKS: readonly Risk[] = ['high', 'critical'];
/** Audit events shown on a request's page (a request has a handful; the cap bounds a pathological one). */
const PAGE_EVENTS = 500;

export interface RequestPage {
  request: RequestDetail;
  votes: RequestDetail['votes'];
  deliveries: RequestDetail['deliveries'];
  grant: string | null;
  grantUses: { usedAt: string; key: string }[];
  outcome: unknown;
  audit: (AuditRecord & { sealed: boolean; checkpoint: { treeSize: number; rootHash: string; createdAt: string } | null })[];
}

/**
 * Who may see a request in the console: auditors every one; anybody else the requests they are (or were) an approver
 * of, and those they voted on. Everything else answers like an unknown id.
 */
export function consoleMaySee(user: ConsoleUser, r: { requirement: Requirement | null; votes: readonly { personKey: string }[] }): boolean {
  return user.roles.includes('auditor') || Boolean(r.requirement?.members.includes(user.person.id)) || r.votes.some((v) => v.personKey === user.person.id);
}

export interface ConsoleRequestService {
  /** Whether the user may see this request at all (others get 404, like an unknown id). */
  canSee(user: ConsoleUser, request: Pick<RequestDetail, 'policy' | 'votes'>): boolean;
  /** Whether a change to this request concerns the user's inbox (they are, or were, one of its approvers). */
  concerns(user: ConsoleUser, request: Pick<RequestDetail, 'policy'>): boolean;
  /** Whether the request belongs in the user's inbox now (pending, theirs to decide, not voted, not a party). */
  inInbox(user: ConsoleUser, request: RequestDetail): boolean;
  /** `action` takes `*` and `?` globs, like the audit filters. */
  inbox(user: ConsoleUser, filter: Omit<InboxFilter, 'actionLike'> & { action?: string }, page: { limit: number; cursor?: string }): Promise<{ items: RequestDetail[]; nextCursor: string | null }>;
  /** The user's own history: requests they voted on, through any channel, newest first. */
  history(user: ConsoleUser, page: { limit: number; cursor?: string }): Promise<{ items: RequestDetail[]; nextCursor: string | null }>;
  /** @throws AppError `not_found` for a request the user may not see. */
  get(user: ConsoleUser, id: string): Promise<RequestDetail>;
  page(user: ConsoleUser, id: string): Promise<RequestPage>;
  /**
   * Votes as the signed-in person, channel `web`.
   * @throws AppError `step_up_required` (with `location`), `step_up_unavailable`, or the vote's refusal code.
   */
  decide(user: ConsoleUser, id: string, input: { decision: 'approve' | 'deny'; reason?: string }): Promise<RequestDetail>;
}

export function createConsoleRequestService(deps: {
  queries: Pick<RequestQueryService, 'get' | 'inbox' | 'votedBy'>;
  decisions: Pick<DecisionService, 'vote'>;
  audit: Pick<AuditService, 'search' | 'append'>;
  auditLog: Pick<TransparencyLog, 'firstCheckpointAbove'>;
  directory: Pick<DirectoryService, 'current'>;
  policy: () => Policy;
  stepUpMaxAgeSeconds: number;
  clock?: () => Date;
}): ConsoleRequestService {
  const clock = deps.clock ?? (() => new Date());
  const isMember = (u: ConsoleUser, r: Pick<RequestDetail, 'policy'>) => Boolean(r.policy.requirement?.members.includes(u.person.id));

  function canSee(user: ConsoleUser, r: Pick<RequestDetail, 'policy' | 'votes'>): boolean {
    return consoleMaySee(user, { requirement: r.policy.requirement, votes: r.votes });
  }

  async function get(user: ConsoleUser, id: string): Promise<RequestDetail> {
    const detail = await deps.queries.get(id.toLowerCase());
    if (!canSee(user, detail)) throw requestNotFound(id);
    return detail;
  }

  /** What the vote records about the web voter: their directory name and email. */
  function approverOf(user: ConsoleUser): PersonIdentity {
    const person = deps.directory.current().person(user.person.id);
    const email = person?.identities.find((l) => l.identity.kind === 'email')?.identity.value;
    return { name: user.person.name, ...(email ? { email } : {}) };
  }

  /** The step-up's verdict: nothing when the session may decide, else the refusal to record and answer. */
  function stepUpRefusal(user: ConsoleUser, r: RequestDetail): AppError | undefined {
    // A request that states no risk is read as the policy's missingRisk (critical unless it says otherwise): leaving
    // the risk out must not skip the step-up.
    const risk = r.risk ?? deps.policy().missingRisk;
    if (!STEP_UP_RISKS.includes(risk)) return undefined;
    if (user.session.signIn !== 'oidc') {
      return new AppError('step_up_unavailable', `Deciding a ${risk}-risk request needs a recent sign-in through your identity provider; a one-time link cannot vouch for that. Sign in through the identity provider.`, { risk });
    }
    const age = clock().getTime() - user.session.authTime.getTime();
    if (age > deps.stepUpMaxAgeSeconds * 1000) {
      const next = `/console/requests/${r.id}`;
      return new AppError('step_up_required', `Deciding a ${risk}-risk request needs a sign-in at your identity provider within the last ${deps.stepUpMaxAgeSeconds} seconds. Sign in again.`, {
        risk, maxAgeSeconds: deps.stepUpMaxAgeSeconds, location: `/console/login?next=${encodeURIComponent(next)}&stepUp=1`,
      });
    }
    return undefined;
  }

  return {
    canSee,
    concerns: isMember,

    inInbox(user, r) {
      const parties = [r.people.requester, r.people.onBehalfOf, r.people.keyOwner];
      return r.status === 'pending' && isMember(user, r) && !parties.includes(user.person.id) && !r.votes.some((v) => v.personKey === user.person.id);
    },

    inbox: (user, { action, ...filter }, page) => deps.queries.inbox(user.person.id, { ...filter, ...(action ? { actionLike: globToLike(action) } : {}) }, page),

    history: (user, page) => deps.queries.votedBy(user.person.id, page),

    get,

    async page(user, id) {
      const request = await get(user, id);
      const events = (await deps.audit.search({ requestId: request.id }, { limit: PAGE_EVENTS })).items;
      // Each sealed event is proven by the first checkpoint that covers its leaf; consecutive events share one.
      let covering: CheckpointView | null = null;
      const audit: RequestPage['audit'] = [];
      for (const e of events) {
        const leaf = e.leafIndex === null ? null : Number(e.leafIndex);
        if (leaf !== null && (!covering || covering.treeSize <= leaf)) covering = await deps.auditLog.firstCheckpointAbove(leaf);
        const checkpoint = leaf !== null && covering && covering.treeSize > leaf ? { treeSize: covering.treeSize, rootHash: covering.rootHash, createdAt: covering.createdAt } : null;
        audit.push({ ...e, sealed: checkpoint !== null, checkpoint });
      }
      return {
        request,
        votes: request.votes,
        deliveries: request.deliveries,
        grant: request.grant,
        grantUses: request.grantUse ? [request.grantUse] : [],
        outcome: request.outcomeReport ?? null,
        audit,
      };
    },

    async decide(user, id, input) {
      const before = await get(user, id);
      // Only a request that can still change needs the step-up; a final one is refused by the vote rules as usual.
      const refusal = before.status === 'pending' ? stepUpRefusal(user, before) : undefined;
      if (refusal) {
        // Recorded like a refused vote: an auditor sees who tried to decide what without a recent sign-in.
        await deps.audit.append([{
          type: 'console.step_up_refused', requestId: before.id, actor: { key: user.person.id, ids: [user.person.id], label: user.person.name }, channel: 'web', at: clock(),
          data: { person: user.person.id, attempted: input.decision, code: refusal.code, risk: refusal.details?.risk ?? null, signIn: user.session.signIn, authTime: user.session.authTime.toISOString(), session: user.session.id },
        }]);
        throw refusal;
      }
      const result = await deps.decisions.vote(before.id, {
        presented: { name: user.person.name },
        person: user.person.id,
        approver: approverOf(user),
        channel: 'web',
        decision: input.decision,
        reason: input.reason,
      });
      if (result.outcome === 'refused') throw new AppError(result.refusal, result.message, { requestId: before.id, status: result.status });
      return deps.queries.get(before.id);
    },
  };
}
