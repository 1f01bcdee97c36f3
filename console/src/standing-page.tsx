/**
 * Standing approvals: the active ones of rules the signed-in person approves (auditors see every one), with a Revoke
 * button for those the person may end (any approver of the rule it was granted under). Action, resource and requester
 * are the agent's claims on the request that created it, marked as such.
 */
import { useEffect, useState } from 'preact/hooks';
import { followStepUp, getJson, postJson } from './api';
import { Claimed, ErrorBox, formatTime } from './components';

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
  expiresAt: string;
  mayRevoke: boolean;
}

export function StandingPage() {
  const [items, setItems] = useState<StandingApprovalView[]>([]);
  const [loading, setLoading] = useState(true);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function load() {
    setLoading(true);
    try {
      setItems((await getJson<{ items: StandingApprovalView[] }>('/console/api/standing-approvals')).items);
    } catch (err) {
      if (!followStepUp(err)) setError(err);
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    void load();
  }, []);

  async function revoke(s: StandingApprovalView) {
    if (!window.confirm(`Revoke the standing approval for ${s.action} on ${s.resource}? Matching requests will be asked again.`)) return;
    setBusy(s.id);
    setError(null);
    try {
      await postJson(`/console/api/standing-approvals/${s.id}/revoke`, {});
      await load();
    } catch (err) {
      if (!followStepUp(err)) setError(err);
    } finally {
      setBusy(null);
    }
  }

  return (
    <section>
      <h1>Standing approvals</h1>
      <p class="muted">Active standing approvals of rules you approve: matching requests are approved at once until one expires, runs out of uses or is revoked. Any approver of the rule may revoke it.</p>
      <ErrorBox error={error} />
      {!loading && !items.length && !error ? <p class="empty">No active standing approvals.</p> : null}
      {items.length ? (
        <table data-testid="standing">
          <thead>
            <tr>
              <th>Rule</th>
              <th>Action</th>
              <th>Resource</th>
              <th>Environment</th>
              <th>Requester</th>
              <th>Granted by</th>
              <th>Uses left</th>
              <th>Expires</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((s) => (
              <tr key={s.id} data-standing-id={s.id}>
                <td>
                  <a href={`/console/requests/${s.requestId}`}>{s.rule}</a>
                </td>
                <td>
                  <Claimed>
                    <code>{s.action}</code>
                  </Claimed>
                </td>
                <td>
                  <Claimed>{s.resource}</Claimed>
                </td>
                <td>{s.environment ?? '—'}</td>
                <td>
                  <Claimed>
                    {s.requester.id} <span class="muted">({s.requester.type})</span>
                  </Claimed>
                </td>
                <td>{s.grantedBy.label}</td>
                <td>
                  {s.usesLeft} / {s.maxUses}
                </td>
                <td>{formatTime(s.expiresAt)}</td>
                <td>
                  {s.mayRevoke ? (
                    <button type="button" disabled={busy === s.id} onClick={() => revoke(s)}>
                      {busy === s.id ? 'Revoking…' : 'Revoke'}
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
