/**
 * Lineage page: one agent run (a trace id, or the run a request belongs to) as a timeline and a tree: each request
 * with its parent and children, its decision and votes, its grant and the grant's use, and the outcome the agent
 * reported. The timeline is a hand-drawn SVG (a chart library would outweigh the whole console for one picture).
 */
import { useEffect, useState } from 'preact/hooks';
import { followStepUp, getJson, query } from './api';
import { Claimed, ErrorBox, formatTime, Loading, StatusBadge } from './components';
import { navigate } from './router';

/** One request of the run, as GET /console/api/lineage gives it (the Lineage schema of /v1/lineage). */
export interface LineageNode {
  id: string;
  parentRequestId: string | null;
  action: string;
  resource?: string;
  status: string;
  risk?: string | null;
  environment?: string | null;
  submittedBy?: string;
  rule?: string;
  createdAt: string;
  decidedAt?: string | null;
  decidedBy?: string | null;
  votes: { who: string; decision: string; at: string; reason?: string | null; channel?: string }[];
  grantIssuedAt?: string | null;
  grantUsedAt?: string | null;
  grantUsedBy?: string | null;
  outcome?: { status: string; at?: string | null; detail?: string | null } | null;
}

export interface LineageTimelineEntry {
  at: string;
  requestId: string;
  kind: string;
  summary: string;
}

export interface LineageView {
  traceId?: string;
  nodes: LineageNode[];
  timeline: LineageTimelineEntry[];
  truncated: boolean;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | null {
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
}

function personName(v: unknown): string | undefined {
  const p = obj(v);
  if (!p) return str(v);
  return str(p.name) ?? str(p.email) ?? str(p.id) ?? str(p.slackUserId) ?? str(p.teamsUserId);
}

/** Reads the lineage answer; every field is read defensively (an older backend may send less). */
export function normalizeLineage(body: unknown): LineageView {
  const b = obj(body) ?? {};
  const raw = (Array.isArray(b.requests) ? b.requests : []) as Record<string, unknown>[];
  const nodes = raw.map((r): LineageNode => {
    const decision = obj(r.decision);
    const grant = obj(r.grant);
    const use = obj(r.grantUse);
    const outcome = obj(r.outcome);
    const votes = (Array.isArray(r.votes) ? r.votes : []) as Record<string, unknown>[];
    return {
      id: String(r.id),
      parentRequestId: str(r.parentRequestId) ?? null,
      action: String(r.action ?? '?'),
      resource: str(r.resource),
      status: String(r.status ?? '?'),
      risk: str(r.risk) ?? null,
      environment: str(r.environment) ?? null,
      submittedBy: str(r.submittedBy),
      rule: str(obj(r.policy)?.rule),
      createdAt: String(r.createdAt ?? ''),
      decidedAt: str(decision?.at) ?? null,
      decidedBy: str(decision?.by) ?? null,
      votes: votes.map((v) => ({
        who: personName(v.approver) ?? str(v.person) ?? '?',
        decision: String(v.decision ?? '?'),
        at: String(v.at ?? ''),
        reason: str(v.reason) ?? null,
        channel: str(v.channel),
      })),
      grantIssuedAt: str(grant?.issuedAt) ?? null,
      grantUsedAt: str(use?.usedAt) ?? null,
      grantUsedBy: str(use?.key) ?? null,
      outcome: outcome && str(outcome.status) ? { status: String(outcome.status), at: str(outcome.reportedAt) ?? null, detail: str(outcome.detail) ?? null } : null,
    };
  });
  const timeline = ((Array.isArray(b.timeline) ? b.timeline : []) as Record<string, unknown>[]).map((e) => ({
    at: String(e.at ?? ''),
    requestId: String(e.requestId ?? ''),
    kind: String(e.kind ?? ''),
    summary: String(e.summary ?? ''),
  }));
  return { traceId: str(b.traceId), nodes, timeline, truncated: b.truncated === true };
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
  const [data, setData] = useState<LineageView | null>(null);
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

function Lineage({ data }: { data: LineageView }) {
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
                  Decided: {n.status}
                  {n.decidedBy ? ` by ${n.decidedBy}` : ''}
                  {n.rule ? ` (rule ${n.rule})` : ''} · {formatTime(n.decidedAt)}
                </li>
              ) : null}
              {n.grantIssuedAt ? <li>Grant issued · {formatTime(n.grantIssuedAt)}</li> : null}
              {n.grantUsedAt ? (
                <li>
                  Grant used{n.grantUsedBy ? ` by key ${n.grantUsedBy}` : ''} · {formatTime(n.grantUsedAt)}
                </li>
              ) : null}
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
      {data.truncated ? <p class="error">This run has more requests than one page shows; the oldest are shown.</p> : null}
      {data.timeline.length ? (
        <>
          <h2>Everything, in order</h2>
          <table data-testid="lineage-events">
            <thead>
              <tr>
                <th>When</th>
                <th>Request</th>
                <th>What</th>
              </tr>
            </thead>
            <tbody>
              {data.timeline.map((e, i) => (
                <tr key={i}>
                  <td>{formatTime(e.at)}</td>
                  <td>
                    <a href={`/console/requests/${e.requestId}`}>{actionOf(data, e.requestId)}</a>
                  </td>
                  <td>{e.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </>
  );
}

function actionOf(data: LineageView, id: string): string {
  return data.nodes.find((n) => n.id === id)?.action ?? id.slice(0, 8);
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
  if (pending) times.push(Date.now());
  // Marks are placed in the order things happened, evenly spaced: a run's steps often come seconds apart after an
  // approval that took an hour, and a true time scale would pile them into one point.
  const distinct = [...new Set(times)].sort((a, b) => a - b);
  const start = distinct[0];
  const end = distinct[distinct.length - 1];
  const span = WIDTH - LEFT - 20;
  const x = (iso: string | null | undefined) => {
    const ms = iso ? new Date(iso).getTime() : NaN;
    if (Number.isNaN(ms)) return null;
    const rank = distinct.indexOf(ms);
    return LEFT + (distinct.length > 1 ? (rank / (distinct.length - 1)) * span : span / 2);
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
              {x(n.decidedAt) !== null ? (
                <polygon
                  points={`${x(n.decidedAt)!},${y - 7} ${x(n.decidedAt)! + 7},${y} ${x(n.decidedAt)!},${y + 7} ${x(n.decidedAt)! - 7},${y}`}
                  class={`mark decided decided-${n.status.replace(/[^a-z]/gi, '')}`}
                >
                  <title>
                    {n.status}
                    {n.decidedBy ? ` by ${n.decidedBy}` : ''} {formatTime(n.decidedAt)}
                  </title>
                </polygon>
              ) : null}
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
      <figcaption class="muted">● asked ▮ vote ◆ decided ■ grant used ▲ outcome reported · marks in the order they happened, evenly spaced (not to scale)</figcaption>
    </figure>
  );
}
