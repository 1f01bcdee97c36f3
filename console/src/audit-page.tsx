/**
 * Audit page (auditors): the trail filtered like GET /v1/audit, its NDJSON export and the evidence pack as downloads,
 * and "Verify", which asks the service to rebuild the transparency log and says the result in plain words.
 */
import { useEffect, useState } from 'preact/hooks';
import { followStepUp, getJson, postJson, query, type AuditEventView, type Page, type Session } from './api';
import { ErrorBox, formatTime } from './components';
import { AuditTable } from './request-page';

const FIELDS = [
  ['requestId', 'Request id'],
  ['requester', 'Requester'],
  ['approver', 'Approver'],
  ['action', 'Action (glob)'],
  ['resource', 'Resource (glob)'],
  ['type', 'Event type'],
] as const;

type Filters = Record<(typeof FIELDS)[number][0] | 'since' | 'until', string>;
const EMPTY: Filters = { requestId: '', requester: '', approver: '', action: '', resource: '', type: '', since: '', until: '' };

/** What POST /console/api/verify answers: the verification in plain words, and what it counted. */
interface VerifyView {
  ok: boolean;
  summary: string;
  checked?: { events?: number; checkpoints?: number; treeSize?: number; unsealed?: number; publishedTreeSize?: number | null };
  problems?: string[];
  latestCheckpoint?: { treeSize: number; time: string | null; signedBy: string[] } | null;
}

/** datetime-local values are local times without a zone: send them as ISO instants. */
function toIso(local: string): string {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

function filterParams(f: Filters): Record<string, string> {
  return { ...f, since: toIso(f.since), until: toIso(f.until) };
}

export function AuditPage({ session }: { session: Session }) {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [items, setItems] = useState<AuditEventView[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [verify, setVerify] = useState<VerifyView | null>(null);
  const [verifying, setVerifying] = useState(false);
  const [verifyError, setVerifyError] = useState<unknown>(null);

  async function load(f: Filters, after: string | null) {
    setLoading(true);
    setError(null);
    try {
      const page = await getJson<Page<AuditEventView>>(`/console/api/audit${query({ ...filterParams(f), limit: 100, cursor: after })}`);
      setItems((prev) => (after ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (err) {
      if (!followStepUp(err)) setError(err);
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    if (session.roles.includes('auditor')) void load(filters, null);
  }, [filters]);

  async function runVerify() {
    setVerifying(true);
    setVerify(null);
    setVerifyError(null);
    try {
      setVerify(await postJson<VerifyView>('/console/api/verify', {}));
    } catch (err) {
      if (!followStepUp(err)) setVerifyError(err);
    } finally {
      setVerifying(false);
    }
  }

  if (!session.roles.includes('auditor')) return <p class="error">The audit trail is for auditors; you are not one.</p>;
  const exportHref = `/console/api/audit.ndjson${query(filterParams(filters))}`;
  const since = toIso(filters.since) || new Date(Date.now() - 30 * 86400_000).toISOString();
  const packHref = `/console/api/evidence${query({ since, until: toIso(filters.until) })}`;

  return (
    <section>
      <h1>Audit trail</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...draft });
        }}
      >
        {FIELDS.map(([name, label]) => (
          <label key={name}>
            {label} <input name={name} value={draft[name]} onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} />
          </label>
        ))}
        <label>
          Since <input name="since" type="datetime-local" value={draft.since} onInput={(e) => setDraft({ ...draft, since: e.currentTarget.value })} />
        </label>
        <label>
          Until <input name="until" type="datetime-local" value={draft.until} onInput={(e) => setDraft({ ...draft, until: e.currentTarget.value })} />
        </label>
        <button type="submit">Filter</button>
      </form>

      <div class="actions">
        <a class="button" href={exportHref} download="audit.ndjson" data-testid="export-ndjson">
          Export NDJSON
        </a>
        <a class="button" href={packHref} download data-testid="evidence-pack">
          Download evidence pack{filters.since ? '' : ' (last 30 days)'}
        </a>
        <button type="button" class="primary" disabled={verifying} onClick={runVerify}>
          {verifying ? 'Verifying…' : 'Verify'}
        </button>
      </div>
      <ErrorBox error={verifyError} />
      {verify ? <VerifyResult v={verify} /> : null}

      <ErrorBox error={error} />
      <AuditTable events={items} />
      {cursor ? (
        <button type="button" disabled={loading} onClick={() => load(filters, cursor)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </section>
  );
}

function VerifyResult({ v }: { v: VerifyView }) {
  const c = v.checked;
  const cp = v.latestCheckpoint;
  return (
    <div class={v.ok ? 'verify ok' : 'verify bad'} role="status" data-testid="verify-result">
      <p>
        <strong>{v.ok ? '✓ Verified' : '✗ Verification FAILED'}</strong> — {v.summary}
      </p>
      {c ? (
        <p class="muted">
          Checked {c.events ?? 0} events against {c.checkpoints ?? 0} signed checkpoints
          {cp ? ` (latest: ${cp.treeSize} events${cp.time ? `, ${formatTime(cp.time)}` : ''}${cp.signedBy.length ? `, signed by ${cp.signedBy.join(', ')}` : ''})` : ''}
          {c.publishedTreeSize !== null && c.publishedTreeSize !== undefined ? `; published copy outside the database: ${c.publishedTreeSize} events` : ''}
          {c.unsealed ? `; ${c.unsealed} newer not sealed yet` : ''}.
        </p>
      ) : null}
      {v.problems?.length ? (
        <ul>
          {v.problems.map((p, i) => (
            <li key={i}>{p}</li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
