/**
 * The console's one way to talk to the console backend (/console/api/*): same-origin fetch with the session cookie,
 * the CSRF token on every POST, errors as ApiError with the backend's stable `code`, and step-up re-authentication
 * (401 step_up_required) followed by navigating to the location the backend names.
 */

/** What /console/api/session answers for a signed-in person. */
export interface Session {
  person: { id: string; name?: string | null };
  roles: ('approver' | 'auditor')[];
  csrfToken: string;
  signIn: 'oidc' | 'link';
  authTime?: string | number | null;
}

/** A person as the API returns one (every field optional: requests carry what the agent sent). */
export interface PersonView {
  id?: string;
  email?: string;
  slackUserId?: string;
  teamsUserId?: string;
  name?: string;
}

/** A request as /v1/requests/:id and the console inbox return it. */
export interface RequestView {
  id: string;
  status: string;
  action: string;
  resource: string;
  requester: PersonView & { id: string; type: string; model?: string };
  onBehalfOf: PersonView | null;
  justification: string | null;
  context: Record<string, string | number | boolean | { sha256: string }>;
  risk: string | null;
  environment: string | null;
  traceId: string | null;
  parentRequestId: string | null;
  submittedBy?: { apiKey: string; owner: string | null };
  pinnedFields?: string[];
  policy?: { rule: string; outcome: string; requirement: { approvers: string[]; approvals: number; channels: string[]; reason: string } | null };
  approvals?: { required: number; received: number };
  votes?: VoteView[];
  deliveries?: DeliveryView[];
  createdAt: string;
  expiresAt: string;
  decidedAt?: string | null;
  decidedBy?: string | null;
  decisionReason?: string | null;
  outcomeReport?: unknown;
  grant?: string | null;
  grantUse?: { usedAt: string; key: string } | null;
}

export interface VoteView {
  approver: PersonView;
  personKey?: string;
  channel: string;
  decision: 'approve' | 'deny';
  reason: string | null;
  at: string;
  attestedBy?: string | null;
}

export interface DeliveryView {
  kind: string;
  target: string;
  status: string;
  attempts: number;
  lastError: string | null;
  updatedAt: string;
}

export interface AuditEventView {
  seq: string;
  requestId: string | null;
  type: string;
  actor: { key: string; ids: string[]; label?: string };
  channel: string;
  at: string;
  data: Record<string, unknown>;
  leafIndex?: string | null;
  sealed?: boolean;
  checkpoint?: { treeSize: number } | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** An error answer: the backend's stable code, its message, and where to go for step-up. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly location?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

/** Remembers the token /console/api/session handed out; every POST carries it. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

async function parseError(res: Response): Promise<ApiError> {
  let body: any = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: fall back to the status */
  }
  // The console backend answers `{ code, message }`; the /v1 API `{ error: { code, message } }`: accept both.
  const e = body?.error && typeof body.error === 'object' ? body.error : body;
  const code = typeof e?.code === 'string' ? e.code : `http_${res.status}`;
  const message = typeof e?.message === 'string' ? e.message : `The server answered ${res.status}.`;
  const location = typeof e?.location === 'string' ? e.location : (res.headers.get('location') ?? undefined);
  return new ApiError(res.status, code, message, location, typeof e?.field === 'string' ? e.field : undefined);
}

/**
 * Leaves for step-up sign-in when the backend asks for it. Only same-origin paths are followed: a location from an
 * answer must never send the person to another site.
 */
export function followStepUp(err: unknown): boolean {
  if (!(err instanceof ApiError) || err.code !== 'step_up_required') return false;
  const target = err.location && err.location.startsWith('/') && !err.location.startsWith('//') ? err.location : `/console/login?next=${encodeURIComponent(location.pathname + location.search)}`;
  location.assign(target);
  return true;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' }, signal });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as T;
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  // A JSON content type with an empty body is refused by the server: send the type only with a body.
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method: 'POST', credentials: 'same-origin', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw await parseError(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Builds a query string from the filled-in fields only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
