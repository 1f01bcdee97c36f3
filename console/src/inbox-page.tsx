/**
 * Inbox: the pending requests the signed-in person may decide, newest first, kept live by the backend's event stream
 * (upsert/remove), filtered, and paged with "load more" (keyset cursor).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { getJson, query, type Page, type RequestView } from './api';
import { Claimed, ContextList, ErrorBox, isClaimed, personLabel, RiskBadge, timeLeft, useNow } from './components';

interface Filters {
  action: string;
  risk: string;
  environment: string;
  q: string;
}

const EMPTY: Filters = { action: '', risk: '', environment: '', q: '' };
const PAGE = 25;

/** Whether a request pushed by the stream belongs in the list the person filtered. */
function matches(r: RequestView, f: Filters): boolean {
  if (r.status && r.status !== 'pending') return false;
  if (f.action && !globMatch(f.action, r.action)) return false;
  if (f.risk && r.risk !== f.risk) return false;
  if (f.environment && r.environment !== f.environment) return false;
  if (f.q) {
    const hay = [r.action, r.resource, r.justification ?? '', r.requester?.id ?? '', personLabel(r.onBehalfOf)].join(' ').toLowerCase();
    if (!hay.includes(f.q.toLowerCase())) return false;
  }
  return true;
}

function globMatch(pattern: string, value: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === value;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(value);
}

function newestFirst(a: RequestView, b: RequestView): number {
  return b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id);
}

export function InboxPage() {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [items, setItems] = useState<RequestView[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const now = useNow(1000);

  async function load(f: Filters, after: string | null) {
    setLoading(true);
    setError(null);
    try {
      const page = await getJson<Page<RequestView>>(`/console/api/inbox${query({ limit: PAGE, cursor: after, ...f })}`);
      setItems((prev) => {
        const base = after ? prev : [];
        const seen = new Set(base.map((r) => r.id));
        return [...base, ...page.items.filter((r) => !seen.has(r.id))];
      });
      setCursor(page.nextCursor);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    void load(filters, null);
  }, [filters]);

  // One stream for the page's life; filters are read through a ref so changing them does not reconnect.
  useEffect(() => {
    const es = new EventSource('/console/api/inbox/stream');
    let dropped = false;
    es.onopen = () => {
      setLive('live');
      // Changes made while the stream was down were not pushed: read the first page again.
      if (dropped) void load(filtersRef.current, null);
      dropped = false;
    };
    es.onerror = () => {
      dropped = true;
      setLive('reconnecting');
    };
    es.addEventListener('upsert', (ev) => {
      let r: RequestView;
      try {
        r = JSON.parse((ev as MessageEvent).data);
      } catch {
        return;
      }
      setItems((prev) => {
        const rest = prev.filter((x) => x.id !== r.id);
        if (!matches(r, filtersRef.current)) return rest;
        return [r, ...rest].sort(newestFirst);
      });
      setFresh((s) => new Set(s).add(r.id));
    });
    es.addEventListener('remove', (ev) => {
      try {
        const { id } = JSON.parse((ev as MessageEvent).data) as { id: string };
        setItems((prev) => prev.filter((x) => x.id !== id));
      } catch {
        /* a malformed event changes nothing */
      }
    });
    return () => es.close();
  }, []);

  function apply(ev: Event) {
    ev.preventDefault();
    setFilters({ ...draft });
  }

  return (
    <section>
      <h1>
        Inbox <span class={`live live-${live}`} data-testid="live-state">{live === 'live' ? '● live' : live === 'connecting' ? 'connecting…' : 'reconnecting…'}</span>
      </h1>
      <p class="muted">Pending requests you may decide, newest first.</p>
      <form class="filters" onSubmit={apply}>
        <label>
          Action <input name="action" placeholder="e.g. dataset.* " value={draft.action} onInput={(e) => setDraft({ ...draft, action: e.currentTarget.value })} />
        </label>
        <label>
          Risk
          <select name="risk" value={draft.risk} onChange={(e) => setDraft({ ...draft, risk: e.currentTarget.value })}>
            <option value="">any</option>
            {['low', 'medium', 'high', 'critical'].map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </label>
        <label>
          Environment <input name="environment" value={draft.environment} onInput={(e) => setDraft({ ...draft, environment: e.currentTarget.value })} />
        </label>
        <label>
          Search <input name="q" type="search" value={draft.q} onInput={(e) => setDraft({ ...draft, q: e.currentTarget.value })} />
        </label>
        <button type="submit">Filter</button>
        <button
          type="button"
          class="link"
          onClick={() => {
            setDraft(EMPTY);
            setFilters(EMPTY);
          }}
        >
          Clear
        </button>
      </form>
      <ErrorBox error={error} />
      {!loading && !items.length && !error ? <p class="empty">Nothing is waiting for you.</p> : null}
      <ul class="inbox" data-testid="inbox">
        {items.map((r) => (
          <InboxItem key={r.id} r={r} now={now} fresh={fresh.has(r.id)} />
        ))}
      </ul>
      {cursor ? (
        <button type="button" disabled={loading} onClick={() => load(filters, cursor)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </section>
  );
}

function InboxItem({ r, now, fresh }: { r: RequestView; now: number; fresh: boolean }) {
  const approvals = r.approvals ? `${r.approvals.received} of ${r.approvals.required}` : '—';
  return (
    <li class={fresh ? 'card fresh' : 'card'} data-request-id={r.id}>
      <div class="card-head">
        <a class="title" href={`/console/requests/${r.id}`}>
          <Claimed claimed={isClaimed(r, 'action')}>
            <code>{r.action}</code>
          </Claimed>{' '}
          on{' '}
          <Claimed claimed={isClaimed(r, 'resource')}>
            <code>{r.resource}</code>
          </Claimed>
        </a>
        <RiskBadge risk={r.risk} />
        <span class="time-left">{timeLeft(r.expiresAt, now)}</span>
      </div>
      <dl class="facts">
        <div>
          <dt>Who asks</dt>
          <dd>
            <Claimed claimed={isClaimed(r, 'requester.id', 'requester.type')}>
              {r.requester.id} ({r.requester.type})
            </Claimed>
          </dd>
        </div>
        <div>
          <dt>On behalf of</dt>
          <dd>{r.onBehalfOf ? <Claimed claimed={isClaimed(r, 'onBehalfOf')}>{personLabel(r.onBehalfOf)}</Claimed> : <span class="muted">nobody named</span>}</dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd>{r.requester.model ? <Claimed>{r.requester.model}</Claimed> : <span class="muted">not given</span>}</dd>
        </div>
        <div>
          <dt>Environment</dt>
          <dd>{r.environment ? <Claimed claimed={isClaimed(r, 'environment')}>{r.environment}</Claimed> : <span class="muted">not given</span>}</dd>
        </div>
        <div>
          <dt>Rule</dt>
          <dd>{r.policy?.rule ?? '—'}</dd>
        </div>
        <div>
          <dt>Approvals so far</dt>
          <dd>{approvals}</dd>
        </div>
      </dl>
      <div class="justification">
        <span class="label">Justification</span>{' '}
        {r.justification ? <Claimed claimed={isClaimed(r, 'justification')}>{r.justification}</Claimed> : <span class="muted">none given</span>}
      </div>
      <details>
        <summary>Context</summary>
        <Claimed claimed={isClaimed(r, 'context')}>
          <ContextList context={r.context} />
        </Claimed>
      </details>
    </li>
  );
}
