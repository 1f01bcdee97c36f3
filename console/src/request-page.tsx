/**
 * Request page: the full record of one request (the agent's claims marked), its votes, deliveries and their state,
 * the grant and its use, the reported outcome, its audit events with their seal status, and the decision form (with
 * the reason the rule asks for). Refusals are shown in the page in plain words; a step-up demand leaves for sign-in.
 */
import { useEffect, useState } from 'preact/hooks';
import { followStepUp, getJson, postJson, type AuditEventView, type DeliveryView, type RequestView, type Session, type VoteView } from './api';
import { Claimed, ContextList, ErrorBox, formatTime, isClaimed, Loading, personLabel, RiskBadge, StatusBadge, timeLeft, useNow } from './components';

/** What /console/api/requests/:id answers (fields beyond `request` are optional: older backends send less). */
export interface RequestDetailView {
  request: RequestView;
  votes?: VoteView[];
  deliveries?: DeliveryView[];
  grant?: { id?: string; jti?: string; token?: string; expiresAt?: string; issuedAt?: string; [k: string]: unknown } | string | null;
  grantUses?: { usedAt?: string; at?: string; key?: string; by?: string; [k: string]: unknown }[];
  outcome?: { status?: string; detail?: string | null; at?: string; reportedAt?: string; [k: string]: unknown } | null;
  audit?: AuditEventView[];
}

export function RequestPage({ id, session }: { id: string; session: Session }) {
  const [detail, setDetail] = useState<RequestDetailView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const now = useNow(1000);

  async function reload() {
    try {
      setDetail(await getJson<RequestDetailView>(`/console/api/requests/${encodeURIComponent(id)}`));
      setError(null);
    } catch (err) {
      if (!followStepUp(err)) setError(err);
    }
  }
  useEffect(() => {
    setDetail(null);
    void reload();
  }, [id]);

  // Decided elsewhere (Slack, Teams, the API, another browser): the inbox stream says so, and the page reads it again.
  useEffect(() => {
    const es = new EventSource('/console/api/inbox/stream');
    const onChange = (ev: Event) => {
      try {
        if ((JSON.parse((ev as MessageEvent).data) as { id?: string }).id === id) void reload();
      } catch {
        /* a malformed event changes nothing */
      }
    };
    es.addEventListener('upsert', onChange);
    es.addEventListener('remove', onChange);
    return () => es.close();
  }, [id]);

  if (!detail) return error ? <ErrorBox error={error} /> : <Loading what="the request" />;
  const r = detail.request;
  const votes = detail.votes ?? r.votes ?? [];
  const deliveries = detail.deliveries ?? r.deliveries ?? [];
  return (
    <article class="request" data-request-id={r.id}>
      <h1>
        <Claimed claimed={isClaimed(r, 'action')}>
          <code>{r.action}</code>
        </Claimed>{' '}
        <StatusBadge status={r.status} />
      </h1>
      <p class="muted">
        Request {r.id} · submitted {formatTime(r.createdAt)} · {r.status === 'pending' ? timeLeft(r.expiresAt, now) : `decided ${formatTime(r.decidedAt)}`}
      </p>
      <ErrorBox error={error} />

      <section>
        <h2>What is asked</h2>
        <dl class="facts wide">
          <Row label="Resource">
            <Claimed claimed={isClaimed(r, 'resource')}>
              <code>{r.resource}</code>
            </Claimed>
          </Row>
          <Row label="Who asks">
            <Claimed claimed={isClaimed(r, 'requester.id', 'requester.type', ...(r.requester.email ? ['requester.identities'] : []))}>
              {r.requester.id} ({r.requester.type}){r.requester.email ? `, ${r.requester.email}` : ''}
            </Claimed>
          </Row>
          <Row label="Model">{r.requester.model ? <Claimed>{r.requester.model}</Claimed> : <span class="muted">not given</span>}</Row>
          <Row label="On behalf of">{r.onBehalfOf ? <Claimed claimed={isClaimed(r, 'onBehalfOf')}>{personLabel(r.onBehalfOf)}</Claimed> : <span class="muted">nobody named</span>}</Row>
          <Row label="Submitted with key">
            {r.submittedBy ? `${r.submittedBy.apiKey}${r.submittedBy.owner ? ` (owner ${r.submittedBy.owner})` : ''}` : '—'}
          </Row>
          <Row label="Environment">{r.environment ? <Claimed claimed={isClaimed(r, 'environment')}>{r.environment}</Claimed> : <span class="muted">not given</span>}</Row>
          <Row label="Risk">
            <Claimed claimed={isClaimed(r, 'risk')}>
              <RiskBadge risk={r.risk} />
            </Claimed>
          </Row>
          <Row label="Justification">{r.justification ? <Claimed claimed={isClaimed(r, 'justification')}>{r.justification}</Claimed> : <span class="muted">none given</span>}</Row>
          <Row label="Context">
            <Claimed claimed={isClaimed(r, 'context')}>
              <ContextList context={r.context} />
            </Claimed>
          </Row>
          <Row label="Agent run">
            {r.traceId ? (
              <>
                <Claimed claimed={isClaimed(r, 'traceId')}>
                  <code>{r.traceId}</code>
                </Claimed>{' '}
              </>
            ) : null}
            {r.parentRequestId ? (
              <>
                after <a href={`/console/requests/${r.parentRequestId}`}>{r.parentRequestId.slice(0, 8)}</a>{' '}
              </>
            ) : null}
            <a href={`/console/lineage/${r.id}`}>Show lineage</a>
          </Row>
          <Row label="Rule">
            {r.policy ? (
              <>
                <code>{r.policy.rule}</code> ({r.policy.outcome})
                {r.policy.requirement ? `: ${r.policy.requirement.approvals} approval(s) from ${r.policy.requirement.approvers.join(', ')}; reason ${reasonWords(r.policy.requirement.reason)}` : ''}
              </>
            ) : (
              '—'
            )}
          </Row>
          <Row label="Approvals">{r.approvals ? `${r.approvals.received} of ${r.approvals.required}` : '—'}</Row>
        </dl>
      </section>

      {r.status === 'pending' ? <DecisionForm r={r} session={session} onDecided={reload} /> : <Outcome r={r} detail={detail} />}

      <section>
        <h2>Votes</h2>
        {votes.length ? (
          <table>
            <thead>
              <tr>
                <th>Who</th>
                <th>Decision</th>
                <th>Reason</th>
                <th>Channel</th>
                <th>When</th>
              </tr>
            </thead>
            <tbody>
              {votes.map((v, i) => (
                <tr key={i}>
                  <td>
                    {personLabel(v.approver)}
                    {v.attestedBy ? <span class="muted"> (attested by {v.attestedBy})</span> : null}
                  </td>
                  <td>
                    <span class={`badge vote-${v.decision}`}>{v.decision}</span>
                  </td>
                  <td>{v.reason ?? <span class="muted">—</span>}</td>
                  <td>{v.channel}</td>
                  <td>{formatTime(v.at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">No votes yet.</p>
        )}
      </section>

      <section>
        <h2>Deliveries</h2>
        {deliveries.length ? (
          <table data-testid="deliveries">
            <thead>
              <tr>
                <th>Channel</th>
                <th>Target</th>
                <th>State</th>
                <th>Attempts</th>
                <th>Last error</th>
                <th>Updated</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d, i) => (
                <tr key={i}>
                  <td>{d.kind}</td>
                  <td>
                    <code>{d.target}</code>
                  </td>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <td>{d.attempts}</td>
                  <td>{d.lastError ?? <span class="muted">—</span>}</td>
                  <td>{formatTime(d.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">No cards were sent (API channel only, or not yet).</p>
        )}
      </section>

      <GrantSection r={r} detail={detail} />

      <section>
        <h2>Audit events</h2>
        <AuditTable events={detail.audit ?? []} />
      </section>
    </article>
  );
}

function Row({ label, children }: { label: string; children: preact.ComponentChildren }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function reasonWords(mode: string): string {
  return mode === 'always' ? 'always required' : mode === 'on-deny' ? 'required to deny' : 'optional';
}

function DecisionForm({ r, session, onDecided }: { r: RequestView; session: Session; onDecided: () => Promise<void> }) {
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<string | null>(null);
  const mode = r.policy?.requirement?.reason ?? 'none';

  async function decide(decision: 'approve' | 'deny') {
    setError(null);
    setDone(null);
    const needsReason = mode === 'always' || (mode === 'on-deny' && decision === 'deny');
    if (needsReason && !reason.trim()) {
      setError(new Error(decision === 'deny' ? 'This rule asks for a reason to deny: write one first.' : 'This rule asks for a reason: write one first.'));
      return;
    }
    setBusy(true);
    try {
      const answer = await postJson<RequestView | { status?: string }>(`/console/api/requests/${r.id}/decisions`, { decision, ...(reason.trim() ? { reason: reason.trim() } : {}) });
      const status = (answer as { status?: string } | undefined)?.status;
      setDone(decision === 'approve' ? `Your approval was recorded${status ? ` (request ${status})` : ''}.` : `Your denial was recorded${status ? ` (request ${status})` : ''}.`);
      await onDecided();
    } catch (err) {
      if (!followStepUp(err)) setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (!session.roles.includes('approver')) return <p class="muted">You are not an approver: you can read this request but not decide it.</p>;
  return (
    <section class="decide">
      <h2>Your decision</h2>
      <label class="block">
        Reason {mode === 'always' ? '(required)' : mode === 'on-deny' ? '(required to deny)' : '(optional)'}
        <textarea name="reason" rows={3} maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </label>
      <div class="actions">
        <button type="button" class="primary" disabled={busy} onClick={() => decide('approve')}>
          Approve
        </button>
        <button type="button" class="danger" disabled={busy} onClick={() => decide('deny')}>
          Deny
        </button>
      </div>
      <ErrorBox error={error} />
      {done ? (
        <p class="ok" role="status">
          {done}
        </p>
      ) : null}
    </section>
  );
}

function Outcome({ r, detail }: { r: RequestView; detail: RequestDetailView }) {
  const outcome = detail.outcome ?? (r.outcomeReport as RequestDetailView['outcome']);
  return (
    <section>
      <h2>Decision</h2>
      <p data-testid="decision">
        <StatusBadge status={r.status} /> {r.decidedAt ? `on ${formatTime(r.decidedAt)}` : ''}
        {r.decidedBy ? ` by ${r.decidedBy}` : ''}
        {r.decisionReason ? ` — ${r.decisionReason}` : ''}
      </p>
      <h3>Outcome reported by the agent</h3>
      {outcome && typeof outcome === 'object' && outcome.status ? (
        <p>
          <Claimed>
            <StatusBadge status={String(outcome.status)} /> {outcome.detail ? String(outcome.detail) : ''}
          </Claimed>{' '}
          <span class="muted">{formatTime((outcome.at ?? outcome.reportedAt) as string | undefined)}</span>
        </p>
      ) : (
        <p class="muted">No outcome reported.</p>
      )}
    </section>
  );
}

/** The claims of a compact JWS, read (not verified: the executor verifies grants against the JWKS). */
function grantClaims(token: string): Record<string, unknown> | null {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

function GrantSection({ r, detail }: { r: RequestView; detail: RequestDetailView }) {
  const grant = detail.grant ?? r.grant ?? null;
  const uses: NonNullable<RequestDetailView['grantUses']> = detail.grantUses ?? (r.grantUse ? [r.grantUse] : []);
  if (!grant && !uses.length) return null;
  const claims = typeof grant === 'string' ? grantClaims(grant) : null;
  const exp = typeof claims?.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : null;
  const approvers = Array.isArray(claims?.cs_approvers) ? (claims.cs_approvers as unknown[]).map(String) : null;
  return (
    <section data-testid="grant">
      <h2>Grant</h2>
      {grant ? (
        <p>
          A signed approval grant was issued{exp ? `, usable until ${formatTime(exp)}` : ''}
          {approvers ? `, naming ${approvers.join(', ')} as approver(s)` : ''}
          {typeof claims?.cs_rule === 'string' ? ` under rule ${claims.cs_rule}` : ''}. The executor verifies it offline (
          <code>npm run cli -- verify grant</code>) and records its single use.
        </p>
      ) : null}
      {uses.length ? (
        <ul>
          {uses.map((u, i) => (
            <li key={i}>
              Used {formatTime((u.usedAt ?? u.at) as string | undefined)} {u.key || u.by ? `with key ${String(u.key ?? u.by)}` : ''}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">Not used yet.</p>
      )}
    </section>
  );
}

/** Audit events with their seal status: sealed into the signed log, or waiting for the next seal. */
export function AuditTable({ events }: { events: AuditEventView[] }) {
  if (!events.length) return <p class="muted">No events.</p>;
  return (
    <table class="audit" data-testid="audit-events">
      <thead>
        <tr>
          <th>#</th>
          <th>Event</th>
          <th>Actor</th>
          <th>Channel</th>
          <th>When</th>
          <th>Seal</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => {
          const sealed = e.sealed ?? (e.leafIndex !== null && e.leafIndex !== undefined);
          return (
            <tr key={e.seq}>
              <td>{e.seq}</td>
              <td>
                <code>{e.type}</code>
                {e.requestId ? (
                  <>
                    {' '}
                    <a href={`/console/requests/${e.requestId}`} class="muted">
                      {e.requestId.slice(0, 8)}
                    </a>
                  </>
                ) : null}
              </td>
              <td>{e.actor?.label ?? e.actor?.key ?? '—'}</td>
              <td>{e.channel}</td>
              <td>{formatTime(e.at)}</td>
              <td>
                {sealed ? (
                  <span class="badge sealed" title={e.checkpoint ? `In checkpoint of size ${e.checkpoint.treeSize}` : undefined}>
                    sealed{e.leafIndex ? ` #${e.leafIndex}` : ''}
                  </span>
                ) : (
                  <span class="badge unsealed">not sealed yet</span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
