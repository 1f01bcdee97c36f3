/**
 * Lineage page: one agent run (a trace id, or the run a request belongs to) as a timeline and a tree: each request
 * with its parent and children, its decision and votes, its grant and the grant's use, and the outcome the agent
 * reported. The timeline is a hand-drawn SVG (a chart library would outweigh the whole console for one picture).
 */
import { useEffect, useState } from 'preact/hooks';
import { followStepUp, getJson, query } from './api';
import { Claimed, ErrorBox, formatTime, Loading, StatusBadge } from './components';
import { navigate } from './router';

/** One request of the run, as the lineage answer gives it (fields read defensively). */
export interface LineageNode {
  id: string;
  parentRequestId: string | null;
  action: string;
  resource?: string;
  status: string;
  createdAt: string;
  decidedAt?: string | null;
  votes: { who: string; decision: string; at: string }[];
  grantIssuedAt?: string | null;
  grantUsedAt?: string | null;
  outcome?: { status: string; at?: string | null; detail?: string | null } | null;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

function who(v: Record<string, unknown>): string {
  const a = (v.approver ?? v.person ?? v.by ?? v.who) as unknown;
  if (typeof a === 'string') return a;
  if (a && typeof a === 'object') {
    const p = a as Record<string, unknown>;
    return String(p.name ?? p.email ?? p.id ?? p.slackUserId ?? p.teamsUserId ?? '?');
  }
  return String(v.personKey ?? '?');
}

/** Accepts `{ requests }`, `{ nodes }`, `{ items }` or a bare array; a node may nest its `request`. */
export function normalizeLineage(body: unknown): { traceId?: string; nodes: LineageNode[] } {
  const b = (body ?? {}) as Record<string, unknown>;
  const raw = (Array.isArray(body) ? body : (b.requests ?? b.nodes ?? b.items ?? [])) as Record<string, unknown>[];
  const nodes = raw.map((n): LineageNode => {
    const r = ((n.request as Record<string, unknown> | undefined) ?? n) as Record<string, unknown>;
    const grant = (n.grant ?? r.grant) as Record<string, unknown> | string | null | undefined;
    const uses = (n.grantUses ?? n.uses ?? r.grantUses) as Record<string, unknown>[] | undefined;
    const use = (n.grantUse ?? r.grantUse ?? uses?.[0]) as Record<string, unknown> | null | undefined;
    const outcome = (n.outcome ?? r.outcome ?? r.outcomeReport) as Record<string, unknown> | null | undefined;
    const votes = ((n.votes ?? r.votes ?? n.decisions) as Record<string, unknown>[] | undefined) ?? [];
    return {
      id: String(r.id),
      parentRequestId: str(r.parentRequestId ?? n.parentRequestId ?? n.parentId) ?? null,
      action: String(r.action ?? '?'),
      resource: str(r.resource),
      status: String(r.status ?? '?'),
      createdAt: String(r.createdAt ?? r.submittedAt ?? ''),
      decidedAt: str(r.decidedAt) ?? null,
      votes: votes.map((v) => ({ who: who(v), decision: String(v.decision ?? '?'), at: String(v.at ?? v.createdAt ?? '') })),
      grantIssuedAt: grant ? (typeof grant === 'string' ? (str(r.decidedAt) ?? null) : (str(grant.issuedAt ?? grant.createdAt) ?? str(r.decidedAt) ?? null)) : null,
      grantUsedAt: use ? (str(use.usedAt ?? use.at) ?? null) : null,
      outcome: outcome && typeof outcome === 'object' && outcome.status ? { status: String(outcome.status), at: str(outcome.at ?? outcome.reportedAt) ?? null, detail: str(outcome.detail) ?? null } : null,
    };
  });
  return { traceId: str(b.traceId), nodes };
}

/** Depth-first order of the run's tree (roots oldest first), with each node's depth. */
export function orderTree(nodes: LineageNode[]): { node: LineageNode; depth: number }[] {
  const byParent = new Map<string | null, LineageNode[]>();
  const ids = new Set(nodes.map((n) => n.id));
  for (const n of nodes) {
    const parent = n.parentRequestId && ids.has(n.parentRequestId) ? n.parentRequestId : null;
    byParent.set(parent, [...(byParent.get(parent) ?? []), n]);
  }
  for (const list of byParent.values()) list.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const out: { node: LineageNode; depth: number }[] = [];
  const seen = new Set<string>();
  const walk = (parent: string | null, depth: number) => {
    for (const n of byParent.get(parent) ?? []) {
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      out.push({ node: n, depth });
      walk(n.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

export function LineagePage({ traceId, requestId }: { traceId?: string; requestId?: string }) {
  const [data, setData] = useState<{ traceId?: string; nodes: LineageNode[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [input, setInput] = useState(traceId ?? '');

  useEffect(() => {
    setData(null);
    setError(null);
    if (!traceId && !requestId) return;
    getJson<unknown>(`/console/api/lineage${query({ traceId, requestId })}`)
      .then((b) => {
        const d = normalizeLineage(b);
        setData(d);
        if (d.traceId) setInput(d.traceId);
      })
      .catch((err) => {
        if (!followStepUp(err)) setError(err);
      });
  }, [traceId, requestId]);

  return (
    <section>
      <h1>Lineage</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (input.trim()) navigate(`/console/lineage${query({ traceId: input.trim() })}`);
        }}
      >
        <label>
          Agent run (trace id) <input name="traceId" value={input} onInput={(e) => setInput(e.currentTarget.value)} />
        </label>
        <button type="submit">Show</button>
      </form>
      <ErrorBox error={error} />
      {!traceId && !requestId ? <p class="muted">Enter the trace id of an agent run, or open the lineage from a request.</p> : null}
      {(traceId || requestId) && !data && !error ? <Loading what="the run" /> : null}
      {data ? <Lineage data={data} /> : null}
    </section>
  );
}

function Lineage({ data }: { data: { traceId?: string; nodes: LineageNode[] } }) {
  const rows = orderTree(data.nodes);
  if (!rows.length) return <p class="muted">No requests in this run.</p>;
  return (
    <>
      <p>
        {data.traceId ? (
          <>
            Run{' '}
            <Claimed>
              <code>{data.traceId}</code>
            </Claimed>
            :{' '}
          </>
        ) : null}
        {rows.length} request{rows.length === 1 ? '' : 's'}.
      </p>
      <Timeline rows={rows} />
      <h2>Steps</h2>
      <ol class="tree" data-testid="lineage-tree">
        {rows.map(({ node: n, depth }) => (
          <li key={n.id} class={`depth-${Math.min(depth, 6)}`} data-request-id={n.id}>
            <a href={`/console/requests/${n.id}`}>
              <Claimed>
                <code>{n.action}</code>
              </Claimed>
            </a>{' '}
            <StatusBadge status={n.status} /> <span class="muted">asked {formatTime(n.createdAt)}</span>
            {n.parentRequestId ? <span class="muted"> · after {n.parentRequestId.slice(0, 8)}</span> : null}
            <ul class="steps">
              {n.votes.map((v, i) => (
                <li key={i}>
                  {v.decision === 'approve' ? 'Approved' : v.decision === 'deny' ? 'Denied' : v.decision} by {v.who} · {formatTime(v.at)}
                </li>
              ))}
              {n.decidedAt ? (
                <li>
                  Decided: {n.status} · {formatTime(n.decidedAt)}
                </li>
              ) : null}
              {n.grantIssuedAt ? <li>Grant issued · {formatTime(n.grantIssuedAt)}</li> : null}
              {n.grantUsedAt ? <li>Grant used · {formatTime(n.grantUsedAt)}</li> : null}
              {n.outcome ? (
                <li>
                  Outcome:{' '}
                  <Claimed>
                    {n.outcome.status}
                    {n.outcome.detail ? ` — ${n.outcome.detail}` : ''}
                  </Claimed>{' '}
                  {n.outcome.at ? `· ${formatTime(n.outcome.at)}` : ''}
                </li>
              ) : null}
            </ul>
          </li>
        ))}
      </ol>
    </>
  );
}

const ROW = 34;
const LEFT = 220;
const WIDTH = 900;

/** One row per request: a bar from asked to decided, with marks for votes, the grant's use and the outcome. */
function Timeline({ rows }: { rows: { node: LineageNode; depth: number }[] }) {
  const times: number[] = [];
  for (const { node: n } of rows) {
    for (const t of [n.createdAt, n.decidedAt, n.grantUsedAt, n.outcome?.at, ...n.votes.map((v) => v.at)]) {
      const ms = t ? new Date(t).getTime() : NaN;
      if (!Number.isNaN(ms)) times.push(ms);
    }
  }
  // A run still waiting on a decision reaches up to now.
  const pending = rows.some(({ node }) => node.status === 'pending');
  const start = Math.min(...times);
  const end = Math.max(...times, start + 1000, pending ? Date.now() : 0);
  const x = (iso: string | null | undefined) => {
    const ms = iso ? new Date(iso).getTime() : NaN;
    return Number.isNaN(ms) ? null : LEFT + ((ms - start) / (end - start)) * (WIDTH - LEFT - 20);
  };
  const height = rows.length * ROW + 30;
  return (
    <figure class="timeline">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="img" aria-label="Timeline of the run" data-testid="lineage-timeline">
        <line x1={LEFT} y1={height - 20} x2={WIDTH - 20} y2={height - 20} class="axis" />
        <text x={LEFT} y={height - 6} class="tick">
          {formatTime(new Date(start).toISOString())}
        </text>
        <text x={WIDTH - 20} y={height - 6} class="tick" text-anchor="end">
          {formatTime(new Date(end).toISOString())}
        </text>
        {rows.map(({ node: n, depth }, i) => {
          const y = i * ROW + 18;
          const x0 = x(n.createdAt) ?? LEFT;
          const x1 = x(n.decidedAt) ?? (n.status === 'pending' ? WIDTH - 20 : x0);
          return (
            <g key={n.id} class={`row status-${n.status.replace(/[^a-z]/gi, '')}`}>
              <text x={8 + depth * 14} y={y + 4} class="label">
                {n.action.length > 26 ? `${n.action.slice(0, 25)}…` : n.action}
              </text>
              <line x1={x0} y1={y} x2={Math.max(x1, x0 + 2)} y2={y} class={n.status === 'pending' ? 'bar waiting' : 'bar'} />
              <circle cx={x0} cy={y} r={5} class="mark asked">
                <title>asked {formatTime(n.createdAt)}</title>
              </circle>
              {n.votes.map((v, j) => {
                const vx = x(v.at);
                return vx === null ? null : (
                  <rect key={j} x={vx - 2} y={y - 8} width={4} height={16} class={`mark vote-${v.decision}`}>
                    <title>
                      {v.decision} by {v.who}
                    </title>
                  </rect>
                );
              })}
              {x(n.grantUsedAt) !== null ? (
                <rect x={x(n.grantUsedAt)! - 5} y={y - 5} width={10} height={10} class="mark used">
                  <title>grant used {formatTime(n.grantUsedAt)}</title>
                </rect>
              ) : null}
              {x(n.outcome?.at) !== null ? (
                <polygon points={`${x(n.outcome?.at)!},${y - 7} ${x(n.outcome?.at)! + 7},${y + 6} ${x(n.outcome?.at)! - 7},${y + 6}`} class={`mark outcome-${n.outcome!.status.replace(/[^a-z]/gi, '')}`}>
                  <title>outcome {n.outcome!.status}</title>
                </polygon>
              ) : null}
            </g>
          );
        })}
      </svg>
      <figcaption class="muted">● asked ▮ vote ■ grant used ▲ outcome reported</figcaption>
    </figure>
  );
}
