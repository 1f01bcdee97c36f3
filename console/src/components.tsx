/**
 * Small pieces every page shares: the "asserted by the agent" mark, people and times in plain words, error boxes,
 * status badges. Everything renders text through JSX (escaped by Preact); nothing here ever sets HTML.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type PersonView, type RequestView } from './api';

/** Marks a value the submitting agent sent: a claim, not a fact Countersign checked. */
export function Claimed({ children, claimed = true }: { children: ComponentChildren; claimed?: boolean }) {
  return (
    <span class={claimed ? 'claimed' : undefined}>
      {children}
      {claimed ? <span class="claim-tag" title="Sent by the agent; Countersign did not check it">asserted by the agent</span> : null}
    </span>
  );
}

/**
 * True when any of the fields shown came from the agent rather than from its API key's pins (`pinnedFields`:
 * requester.id, requester.type, environment). The model, identities and everything else are always the agent's.
 */
export function isClaimed(req: Pick<RequestView, 'pinnedFields'>, ...fields: string[]): boolean {
  const pinned = req.pinnedFields ?? [];
  return fields.some((f) => !pinned.includes(f));
}

export function personLabel(p: PersonView | null | undefined): string {
  if (!p) return '—';
  const who = p.name || p.email || p.slackUserId || p.teamsUserId || p.id || 'unknown';
  const extra = p.name && p.email ? ` <${p.email}>` : '';
  return who + extra;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** "12 min left", "expired": the time until `iso`, from `now`. */
export function timeLeft(iso: string, now: number): string {
  const ms = new Date(iso).getTime() - now;
  if (Number.isNaN(ms)) return '—';
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s left`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min left`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min left`;
  return `${Math.floor(h / 24)} days left`;
}

/** The current time, ticking every `everyMs` (time-left columns). */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge status-${status.replace(/[^a-z_-]/gi, '')}`}>{status}</span>;
}

export function RiskBadge({ risk }: { risk: string | null }) {
  if (!risk) return <span class="muted">no risk given</span>;
  return <span class={`badge risk-${risk.replace(/[^a-z]/gi, '')}`}>{risk}</span>;
}

/** Plain words for the backend's refusals; its own message otherwise. */
export function explainError(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  switch (err.code) {
    case 'self_approval':
      return 'You cannot approve your own request: you asked for it, it is on your behalf, or it was submitted with your key.';
    case 'not_an_approver':
    case 'not_eligible':
      return 'You are not one of the approvers this request needs.';
    case 'step_up_unavailable':
      return 'Deciding this request needs a fresh sign-in through your identity provider (a one-time link is not enough). Sign out and sign in with your identity provider.';
    case 'unknown_approver':
    case 'unknown_person':
      return 'You are not in the people directory of this service.';
    case 'expired':
      return 'This request has expired: it can no longer be decided.';
    case 'already_voted':
      return 'You have already voted on this request.';
    case 'already_decided':
    case 'request_closed':
    case 'not_pending':
      return `This request is already decided. ${err.message}`;
    case 'reason_required':
      return 'A reason is required for this decision.';
    case 'not_signed_in':
      return 'Your session has ended: sign in again.';
    case 'csrf_failed':
      return 'The page is out of date (security token). Reload it and try again.';
    case 'forbidden':
    case 'not_an_auditor':
      return `You are not allowed to see this. ${err.message}`;
    default:
      return err.message;
  }
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const signIn = error instanceof ApiError && error.code === 'not_signed_in';
  return (
    <p class="error" role="alert">
      {explainError(error)}
      {signIn ? (
        <>
          {' '}
          <a href={`/console/login?next=${encodeURIComponent(location.pathname + location.search)}`}>Sign in</a>
        </>
      ) : null}
    </p>
  );
}

/** A value of the agent's context: sensitive values arrive only as their hash. */
export function ContextValue({ value }: { value: unknown }) {
  if (value && typeof value === 'object' && 'sha256' in (value as object)) {
    return (
      <span class="muted" title="Sensitive value: only its SHA-256 is stored">
        hidden (sha256 {String((value as { sha256: string }).sha256).slice(0, 12)}…)
      </span>
    );
  }
  return <span>{String(value)}</span>;
}

export function ContextList({ context }: { context: Record<string, unknown> | null | undefined }) {
  const entries = Object.entries(context ?? {});
  if (!entries.length) return <span class="muted">none</span>;
  return (
    <dl class="context">
      {entries.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>
            <ContextValue value={v} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="muted">Loading {what}…</p>;
}
