/** My decisions: the requests the signed-in person voted on, through any channel, newest first, with their outcome. */
import { useEffect, useState } from 'preact/hooks';
import { followStepUp, getJson, query, type Page, type RequestView, type Session } from './api';
import { Claimed, ErrorBox, formatTime, StatusBadge } from './components';

export function HistoryPage({ session }: { session: Session }) {
  const [items, setItems] = useState<RequestView[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);

  async function load(after: string | null) {
    setLoading(true);
    try {
      const page = await getJson<Page<RequestView>>(`/console/api/history${query({ limit: 25, cursor: after })}`);
      setItems((prev) => (after ? [...prev, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (err) {
      if (!followStepUp(err)) setError(err);
    } finally {
      setLoading(false);
    }
  }
  useEffect(() => {
    void load(null);
  }, []);

  return (
    <section>
      <h1>My decisions</h1>
      <p class="muted">Requests you voted on, in the console, Slack, Teams or through a portal, newest first.</p>
      <ErrorBox error={error} />
      {!loading && !items.length && !error ? <p class="empty">You have not decided anything yet.</p> : null}
      {items.length ? (
        <table data-testid="history">
          <thead>
            <tr>
              <th>Request</th>
              <th>Your vote</th>
              <th>Request now</th>
              <th>When</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => {
              const mine = (r.votes ?? []).filter((v) => v.personKey === session.person.id).pop();
              return (
                <tr key={r.id} data-request-id={r.id}>
                  <td>
                    <a href={`/console/requests/${r.id}`}>
                      <Claimed>
                        <code>{r.action}</code>
                      </Claimed>
                    </a>{' '}
                    <span class="muted">on {r.resource}</span>
                  </td>
                  <td>
                    {mine ? (
                      <>
                        <span class={`badge vote-${mine.decision}`}>{mine.decision}</span> <span class="muted">via {mine.channel}</span>
                        {mine.reason ? <span> — {mine.reason}</span> : null}
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{formatTime(mine?.at ?? r.decidedAt ?? r.createdAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
      {cursor ? (
        <button type="button" disabled={loading} onClick={() => load(cursor)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      ) : null}
    </section>
  );
}
