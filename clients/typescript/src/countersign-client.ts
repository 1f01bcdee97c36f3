/**
 * The Countersign client: submit an approval request (idempotently), wait for the decision through repeated
 * long-polls, verify the grant offline, run the action and report what happened. Works with any fetch (Node 20+,
 * Deno, Bun, browsers); no server code.
 */
import { fromDetail, fromIntake, type Approval, type ApprovalRequestWithGrant } from './approval.js';
import { ApprovalNotGrantedError, CountersignError, GrantVerificationError } from './errors.js';
import type { ApprovalRequestPage, IntakeAnswer, SubmitRequestInput } from './generated/api-types.js';
import { remoteKeys, verifyGrant, type GrantCheck, type GrantClaims } from './grant.js';
import type { JWTVerifyGetKey } from 'jose';

type ApprovalStatusFilter = ApprovalRequestWithGrant['status'];

/** The body of `POST /v1/requests`: what the agent wants to do, on what, for whom and why. */
export type ApprovalInput = SubmitRequestInput;

export interface CountersignClientOptions {
  /** The service's base URL, e.g. `https://countersign.example.com`. */
  baseUrl: string;
  /** An API key with scope `submit` (and `read` to wait for decisions). */
  apiKey: string;
  /** A fetch implementation; the global one by default. */
  fetch?: typeof globalThis.fetch;
  /** Longest single long-poll in seconds (the service allows up to its MAX_WAIT_SECONDS, 60 by default). Default 50. */
  maxWaitSeconds?: number;
  /** Where the grant-signing keys are published. Default `<baseUrl>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Also require a grant's `iss` to be this (the service's PUBLIC_BASE_URL). */
  issuer?: string;
  /** Longest Retry-After the client honours before giving up, in ms. Default 30 s. */
  maxRetryDelayMs?: number;
}

/** How long to wait for a decision. */
export interface WaitOptions {
  /** Give up (and return the pending approval with `timedOut: true`) after this many ms. Default: until decided or expired. */
  timeoutMs?: number;
  /** Abort waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Called after each long-poll that ended with the request still pending. */
  onPending?: (approval: Approval) => void;
}

export interface RequestApprovalOptions {
  /** `true` (default) waits until decided or expired; `false` returns the intake answer; or bound the wait. */
  wait?: boolean | WaitOptions;
  /** Idempotency key; a retry with the same key and body returns the original request. Default: a random UUID. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface OutcomeReport {
  status: 'succeeded' | 'failed' | 'aborted';
  detail?: string;
}

export interface GuardOptions<T> extends Omit<RequestApprovalOptions, 'wait'> {
  /** How long to wait for approvers (default: until decided or expired). */
  wait?: WaitOptions;
  /** Refuse to run without a verified grant, even on a service that does not issue grants. Default false. */
  requireGrant?: boolean;
  /** The `detail` reported with a successful outcome. */
  describe?: (value: T) => string | undefined;
  /** The outcome to report for what `fn` returned (default `succeeded` with `describe`'s detail). */
  outcomeOf?: (value: T) => OutcomeReport;
}

/** What {@link CountersignClient.guard} ran, under which approval, and how the grant was checked. */
export interface GuardResult<T> {
  value: T;
  approval: Approval;
  /** `verified: false` with the reason when the service issued no grant (the action still ran, unless `requireGrant`). */
  grant: GrantCheck;
  /** False when the outcome could not be reported (the action ran all the same); see `outcomeError`. */
  outcomeReported: boolean;
  outcomeError?: Error;
}

const RETRYABLE = new Set([429, 503]);

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted.', 'AbortError');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A client for one Countersign service and API key. */
export class CountersignClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof globalThis.fetch;
  private maxWaitSeconds: number;
  private readonly maxRetryDelayMs: number;
  private readonly jwksUrl: string;
  private readonly issuer?: string;
  private keys?: JWTVerifyGetKey;

  constructor(opts: CountersignClientOptions) {
    if (!opts.baseUrl) throw new TypeError('CountersignClient needs baseUrl (COUNTERSIGN_URL)');
    if (!opts.apiKey) throw new TypeError('CountersignClient needs apiKey (COUNTERSIGN_API_KEY)');
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.apiKey = opts.apiKey;
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.maxWaitSeconds = opts.maxWaitSeconds ?? 50;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 30_000;
    this.jwksUrl = opts.jwksUrl ?? `${this.baseUrl}/.well-known/jwks.json`;
    this.issuer = opts.issuer;
  }

  /** A client configured by `COUNTERSIGN_URL` and `COUNTERSIGN_API_KEY`. */
  static fromEnv(env: Record<string, string | undefined> = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {}): CountersignClient {
    return new CountersignClient({ baseUrl: env.COUNTERSIGN_URL ?? '', apiKey: env.COUNTERSIGN_API_KEY ?? '' });
  }

  /**
   * One API call. 429 and 503 are retried after their Retry-After while it fits the deadline (intake is retried
   * with the same idempotency key, so a retry never creates a second request); other errors throw
   * {@link CountersignError}.
   */
  private async call<T>(method: string, path: string, o: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal; deadline?: number } = {}): Promise<{ body: T; headers: Headers }> {
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchImpl(this.baseUrl + path, {
          method,
          headers: { authorization: `Bearer ${this.apiKey}`, accept: 'application/json', ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers },
          body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
          signal: o.signal,
        });
      } catch (err) {
        if (o.signal?.aborted) throw abortError(o.signal);
        throw new CountersignError(0, 'unreachable', `Countersign at ${this.baseUrl} could not be reached: ${(err as Error).message}`);
      }
      const text = await res.text();
      let json: any;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      if (res.ok) return { body: json as T, headers: res.headers };
      const e = json?.error ?? {};
      const retryAfter = Number(res.headers.get('retry-after'));
      const err = new CountersignError(res.status, e.code ?? `http_${res.status}`, e.message ?? `HTTP ${res.status}`, e.field, e.details, Number.isFinite(retryAfter) ? retryAfter : undefined);
      if (!RETRYABLE.has(res.status) || attempt >= 10) throw err;
      const delay = Math.max(0.2, err.retryAfterSeconds ?? 1) * 1000;
      if (delay > this.maxRetryDelayMs || (o.deadline !== undefined && Date.now() + delay > o.deadline)) throw err;
      await sleep(delay, o.signal);
    }
  }

  /** `POST /v1/requests`: submits without waiting. Retries with the same idempotency key are safe. */
  async submit(input: ApprovalInput, opts: { idempotencyKey?: string; signal?: AbortSignal } = {}): Promise<IntakeAnswer & { idempotencyKey: string; replayed: boolean }> {
    const idempotencyKey = opts.idempotencyKey ?? crypto.randomUUID();
    const { body, headers } = await this.call<IntakeAnswer>('POST', '/v1/requests', { body: input, headers: { 'idempotency-key': idempotencyKey }, signal: opts.signal });
    return { ...body, idempotencyKey, replayed: headers.get('idempotent-replayed') === 'true' };
  }

  /** `GET /v1/requests/:id`, long-polling up to `waitSeconds` for a decision. */
  async getRequest(id: string, opts: { waitSeconds?: number; signal?: AbortSignal } = {}): Promise<ApprovalRequestWithGrant> {
    const wait = opts.waitSeconds ? `?wait=${Math.ceil(opts.waitSeconds)}` : '';
    return (await this.call<ApprovalRequestWithGrant>('GET', `/v1/requests/${encodeURIComponent(id)}${wait}`, { signal: opts.signal })).body;
  }

  /** `GET /v1/requests`: newest first; a key with only `read` sees its own submissions. */
  async listRequests(filter: { status?: ApprovalStatusFilter; action?: string; requester?: string; traceId?: string; limit?: number; cursor?: string } = {}): Promise<ApprovalRequestPage> {
    const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return (await this.call<ApprovalRequestPage>('GET', `/v1/requests${query ? `?${query}` : ''}`)).body;
  }

  /** The request's current state as an {@link Approval}, without waiting. */
  async getApproval(id: string, opts: { signal?: AbortSignal } = {}): Promise<Approval> {
    return fromDetail(await this.getRequest(id, opts));
  }

  /**
   * Waits through repeated long-polls until the request is decided or expires, or the caller's deadline passes
   * (then resolves with `timedOut: true`), or the signal aborts (then rejects).
   */
  async waitForDecision(id: string, opts: WaitOptions = {}): Promise<Approval> {
    const deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : undefined;
    for (;;) {
      if (opts.signal?.aborted) throw abortError(opts.signal);
      const remaining = deadline === undefined ? Infinity : deadline - Date.now();
      const waitSeconds = Math.max(0, Math.min(this.maxWaitSeconds, Math.floor(remaining / 1000)));
      let detail: ApprovalRequestWithGrant;
      try {
        detail = (await this.call<ApprovalRequestWithGrant>('GET', `/v1/requests/${encodeURIComponent(id)}${waitSeconds ? `?wait=${waitSeconds}` : ''}`, { signal: opts.signal, deadline })).body;
      } catch (err) {
        // A service whose MAX_WAIT_SECONDS is below ours refuses the wait: ask for less from now on.
        if (err instanceof CountersignError && err.status === 400 && err.field === 'wait' && waitSeconds > 0) {
          this.maxWaitSeconds = Math.floor(waitSeconds / 2);
          continue;
        }
        // Out of long-poll slots with a deadline too close for Retry-After: report the wait as timed out.
        if (err instanceof CountersignError && RETRYABLE.has(err.status) && deadline !== undefined && Date.now() + 1000 * (err.retryAfterSeconds ?? 1) > deadline) {
          return fromDetail(await this.getRequest(id, { signal: opts.signal }), true);
        }
        throw err;
      }
      if (detail.status !== 'pending') return fromDetail(detail);
      if (deadline !== undefined && Date.now() >= deadline - 250) return fromDetail(detail, true);
      opts.onPending?.(fromDetail(detail));
      // A wait that ended early (server shutdown, a sub-second remainder) must not spin.
      if (waitSeconds === 0) await sleep(Math.min(1000, Math.max(0, remaining)), opts.signal);
    }
  }

  /**
   * Asks for approval: submits with an idempotency key, then (by default) waits until the request is decided, it
   * expires, or the deadline in `wait` passes. Never throws because the answer is "no": check `approved`.
   *
   * @example
   * const approval = await client.requestApproval({ action: 'db.migrate', resource: 'pg://prod/main',
   *   requester: { id: 'deploy-bot', type: 'agent' } }, { wait: { timeoutMs: 10 * 60_000 } });
   * if (!approval.approved) throw new Error(approval.summary);
   */
  async requestApproval(input: ApprovalInput, opts: RequestApprovalOptions = {}): Promise<Approval> {
    const intake = await this.submit(input, { idempotencyKey: opts.idempotencyKey, signal: opts.signal });
    if (opts.wait === false) return fromIntake(intake);
    const w: WaitOptions = typeof opts.wait === 'object' ? opts.wait : {};
    const signal = w.signal && opts.signal ? AbortSignal.any([w.signal, opts.signal]) : (w.signal ?? opts.signal);
    // Even a decision made at intake is read once more: the full request carries the grant and the votes.
    return this.waitForDecision(intake.id, { ...w, signal, timeoutMs: intake.status === 'pending' ? w.timeoutMs : 0 });
  }

  /** `POST /v1/requests/:id/outcome`: what happened after acting (once, approved requests only). */
  async reportOutcome(id: string, outcome: OutcomeReport): Promise<{ id: string; outcome: OutcomeReport['status'] }> {
    const detail = outcome.detail ? outcome.detail.slice(0, 4000) : undefined;
    return (await this.call<{ id: string; outcome: OutcomeReport['status'] }>('POST', `/v1/requests/${encodeURIComponent(id)}/outcome`, { body: { status: outcome.status, ...(detail ? { detail } : {}) } })).body;
  }

  /** `POST /v1/requests/:id/cancel`: withdraws a pending request this key submitted. */
  async cancel(id: string, reason?: string): Promise<{ status: string }> {
    return (await this.call<{ status: string }>('POST', `/v1/requests/${encodeURIComponent(id)}/cancel`, { body: reason ? { reason } : {} })).body;
  }

  /** `POST /v1/grants/use`: records that a grant is being used; a second use is refused (`grant_already_used`). */
  async useGrant(grant: string): Promise<{ requestId: string; usedAt: string }> {
    return (await this.call<{ requestId: string; usedAt: string }>('POST', '/v1/grants/use', { body: { grant } })).body;
  }

  /** Verifies an approval's grant offline against the service's JWKS and the body as it was submitted. */
  async verifyGrant(approval: Approval, submitted: ApprovalInput): Promise<GrantClaims> {
    if (!approval.grant) throw new GrantVerificationError('the approval carries no grant', approval);
    this.keys ??= remoteKeys(this.jwksUrl);
    return verifyGrant(approval.grant, this.keys, { requestId: approval.id, submitted, issuer: this.issuer });
  }

  /**
   * Runs `fn` only once a person (or the policy) approved it: requests approval and waits, verifies the grant
   * offline when the service issued one, records the grant's use, runs `fn`, and reports the outcome (`succeeded`,
   * or `failed` with the error, which is rethrown). Throws {@link ApprovalNotGrantedError} without running `fn` when
   * the request is denied, expires, is cancelled or is still pending at the deadline.
   */
  async guard<T>(input: ApprovalInput, fn: (approval: Approval) => Promise<T> | T, opts: GuardOptions<T> = {}): Promise<GuardResult<T>> {
    const approval = await this.requestApproval(input, { wait: opts.wait ?? true, idempotencyKey: opts.idempotencyKey, signal: opts.signal });
    if (!approval.approved) throw new ApprovalNotGrantedError(approval);

    let grant: GrantCheck;
    if (approval.grant) {
      try {
        const claims = await this.verifyGrant(approval, input);
        await this.useGrant(approval.grant);
        grant = { verified: true, claims, used: true };
      } catch (err) {
        const reason = err instanceof CountersignError ? `${err.code}: ${err.message}` : (err as Error).message;
        await this.reportOutcome(approval.id, { status: 'aborted', detail: `not run: the grant did not verify (${reason})` }).catch(() => undefined);
        throw err instanceof GrantVerificationError ? err : new GrantVerificationError(`the grant did not verify: ${reason}`, approval);
      }
    } else if (opts.requireGrant) {
      await this.reportOutcome(approval.id, { status: 'aborted', detail: 'not run: no grant was issued and one is required' }).catch(() => undefined);
      throw new GrantVerificationError('the service issued no grant for this approval, and requireGrant is set', approval);
    } else {
      grant = { verified: false, reason: 'the service issued no grant for this approval (grants are not enabled there): verification skipped' };
    }

    let value: T;
    try {
      value = await fn(approval);
    } catch (err) {
      await this.reportOutcome(approval.id, { status: 'failed', detail: err instanceof Error ? err.message : String(err) }).catch(() => undefined);
      throw err;
    }
    try {
      await this.reportOutcome(approval.id, opts.outcomeOf?.(value) ?? { status: 'succeeded', detail: opts.describe?.(value) });
      return { value, approval, grant: grant!, outcomeReported: true };
    } catch (err) {
      return { value, approval, grant: grant!, outcomeReported: false, outcomeError: err as Error };
    }
  }
}

export { ApprovalNotGrantedError, CountersignError, GrantVerificationError };
