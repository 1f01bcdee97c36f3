/**
 * Policy page: the policy in force (groups with their members, people, rules in the order they are tried) and a
 * "what would happen" form that asks the service to evaluate a hypothetical request without submitting it.
 */
import { useEffect, useState } from 'preact/hooks';
import { followStepUp, getJson, postJson, type Session } from './api';
import { ErrorBox, Loading } from './components';

/** What GET /console/api/policy answers; read defensively (names of members, rules in order). */
interface PolicyView {
  version?: string | number;
  hash?: string;
  groups?: Record<string, unknown[]> | { name: string; members: unknown[] }[];
  people?: { id: string; name?: string; identities?: string[] }[];
  rules?: { name: string; match?: Record<string, unknown>; outcome: string; approvers?: string[]; approvals?: number; channels?: string[]; reason?: string; message?: string }[];
  default?: { outcome: string; approvers?: string[]; approvals?: number; reason?: string };
}

function label(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return String(o.name ?? o.id ?? o.email ?? JSON.stringify(o));
  }
  return String(v);
}

function groupsOf(p: PolicyView): { name: string; members: unknown[] }[] {
  if (!p.groups) return [];
  if (Array.isArray(p.groups)) return p.groups;
  return Object.entries(p.groups).map(([name, members]) => ({ name, members }));
}

function matchWords(match: Record<string, unknown> | undefined): string {
  if (!match || !Object.keys(match).length) return 'every request';
  return Object.entries(match)
    .map(([k, v]) => `${k} ${Array.isArray(v) ? `in ${v.join(', ')}` : `= ${String(v)}`}`)
    .join(' and ');
}

export function PolicyPage({ session }: { session: Session }) {
  const [policy, setPolicy] = useState<PolicyView | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    getJson<PolicyView>('/console/api/policy')
      .then(setPolicy)
      .catch((err) => {
        if (!followStepUp(err)) setError(err);
      });
  }, []);

  return (
    <section>
      <h1>Policy</h1>
      <ErrorBox error={error} />
      {!policy && !error ? <Loading what="the policy" /> : null}
      {policy ? (
        <>
          {policy.hash ? <p class="muted">Policy {policy.version ? `version ${policy.version}, ` : ''}hash <code>{policy.hash.slice(0, 16)}</code></p> : null}
          <h2>Rules, in the order they are tried</h2>
          <ol class="rules" data-testid="rules">
            {(policy.rules ?? []).map((r) => (
              <li key={r.name}>
                <strong>{r.name}</strong>: when {matchWords(r.match)} → <span class={`badge outcome-${r.outcome}`}>{r.outcome}</span>
                {r.outcome === 'require' ? ` ${r.approvals ?? 1} approval(s) from ${(r.approvers ?? []).join(', ')}` : ''}
                {r.channels?.length ? `, cards in ${r.channels.join(', ')}` : ''}
                {r.outcome === 'require' && r.reason ? `, reason ${r.reason === 'always' ? 'always required' : r.reason === 'on-deny' ? 'required to deny' : 'optional'}` : ''}
                {r.message ? <span class="muted"> — “{r.message}”</span> : null}
              </li>
            ))}
            {policy.default ? (
              <li>
                <strong>default</strong>: anything else → <span class={`badge outcome-${policy.default.outcome}`}>{policy.default.outcome}</span>
                {policy.default.outcome === 'require' ? ` ${policy.default.approvals ?? 1} approval(s) from ${(policy.default.approvers ?? []).join(', ')}` : ''}
              </li>
            ) : null}
          </ol>
          <h2>Groups</h2>
          <dl class="facts wide">
            {groupsOf(policy).map((g) => (
              <div key={g.name}>
                <dt>{g.name}</dt>
                <dd>{g.members.map(label).join(', ') || <span class="muted">nobody</span>}</dd>
              </div>
            ))}
          </dl>
          <h2>People</h2>
          <ul>
            {(policy.people ?? []).map((p) => (
              <li key={p.id}>
                {p.name ?? p.id} {p.identities?.length ? <span class="muted">({p.identities.join(', ')})</span> : null}
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {session.roles.includes('auditor') ? <EvaluateForm /> : <p class="muted">Auditors can try the policy on a sample request here.</p>}
    </section>
  );
}

interface EvaluateForm {
  action: string;
  resource: string;
  environment: string;
  risk: string;
  requesterId: string;
  requesterType: string;
  onBehalfOf: string;
  apiKeyOwner: string;
}

function EvaluateForm() {
  const [f, setF] = useState<EvaluateForm>({ action: '', resource: '', environment: '', risk: '', requesterId: 'agent', requesterType: 'agent', onBehalfOf: '', apiKeyOwner: '' });
  const [answer, setAnswer] = useState<EvaluateAnswerView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const set = (k: keyof EvaluateForm) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });

  async function submit(ev: Event) {
    ev.preventDefault();
    setError(null);
    setAnswer(null);
    const body: Record<string, unknown> = { action: f.action, resource: f.resource, requester: { id: f.requesterId, type: f.requesterType } };
    if (f.environment) body.environment = f.environment;
    if (f.risk) body.risk = f.risk;
    if (f.onBehalfOf) body.onBehalfOf = { email: f.onBehalfOf };
    if (f.apiKeyOwner) body.apiKeyOwner = f.apiKeyOwner;
    try {
      setAnswer(await postJson<EvaluateAnswerView>('/console/api/policy/evaluate', body));
    } catch (err) {
      if (!followStepUp(err)) setError(err);
    }
  }

  return (
    <section>
      <h2>What would happen?</h2>
      <form class="filters" onSubmit={submit} data-testid="evaluate-form">
        <label>
          Action <input name="action" required value={f.action} onInput={set('action')} />
        </label>
        <label>
          Resource <input name="resource" required value={f.resource} onInput={set('resource')} />
        </label>
        <label>
          Environment <input name="environment" value={f.environment} onInput={set('environment')} />
        </label>
        <label>
          Risk
          <select name="risk" value={f.risk} onChange={set('risk')}>
            <option value="">not given</option>
            {['low', 'medium', 'high', 'critical'].map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          Requester <input name="requesterId" value={f.requesterId} onInput={set('requesterId')} />
        </label>
        <label>
          Type
          <select name="requesterType" value={f.requesterType} onChange={set('requesterType')}>
            {['agent', 'service', 'human'].map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          On behalf of (email) <input name="onBehalfOf" type="email" value={f.onBehalfOf} onInput={set('onBehalfOf')} />
        </label>
        <label>
          Key owner <input name="apiKeyOwner" value={f.apiKeyOwner} onInput={set('apiKeyOwner')} />
        </label>
        <button type="submit" class="primary">
          Evaluate
        </button>
      </form>
      <ErrorBox error={error} />
      {answer ? <EvaluateAnswer a={answer} /> : null}
    </section>
  );
}

interface EvaluateAnswerView {
  rule: string;
  ruleIndex?: number;
  outcome: 'approve' | 'deny' | 'require' | string;
  message?: string | null;
  assumedRisk?: string | null;
  ttlSeconds?: number | null;
  requirement?: {
    approvers: string[];
    approvals: number;
    reason: string;
    channels: string[];
    members?: { id: string; name: string }[];
    excluded?: { id: string; name: string }[];
  } | null;
}

function EvaluateAnswer({ a }: { a: EvaluateAnswerView }) {
  const req = a.requirement;
  const words =
    a.outcome === 'approve'
      ? 'It would be approved at once.'
      : a.outcome === 'deny'
        ? 'It would be denied at once.'
        : `It would wait for ${req?.approvals ?? '?'} approval(s) from ${req?.approvers.join(', ') ?? '?'}.`;
  return (
    <div class="verify ok" role="status" data-testid="evaluate-answer">
      <p>
        Rule <code>{a.rule}</code>
        {typeof a.ruleIndex === 'number' ? ` (number ${a.ruleIndex + 1} in order)` : ''}: <strong>{words}</strong>
      </p>
      {a.message ? <p class="muted">“{a.message}”</p> : null}
      {a.assumedRisk ? <p class="muted">No risk was given: the policy read it as {a.assumedRisk}.</p> : null}
      {req ? (
        <ul>
          <li>Reason: {req.reason === 'always' ? 'always required' : req.reason === 'on-deny' ? 'required to deny' : 'optional'}</li>
          {req.channels.length ? <li>Cards in {req.channels.join(', ')}</li> : null}
          {req.members ? <li>Who could approve: {req.members.map((m) => m.name).join(', ') || 'nobody'}</li> : null}
          {req.excluded?.length ? <li>Could not approve it (their own request): {req.excluded.map((m) => m.name).join(', ')}</li> : null}
        </ul>
      ) : null}
    </div>
  );
}
