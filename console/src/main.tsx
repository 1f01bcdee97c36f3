/**
 * The Countersign web console (issue 12): a single-page app for approvers and auditors, served by Countersign itself
 * from dist/console (built by console/build.ts). This file owns the shell: the session (who is signed in, their
 * roles, the CSRF token), navigation and which page a path shows. Pages: Inbox (inbox-page), Request (request-page),
 * My decisions (history-page), Standing approvals (standing-page),
 * Lineage (lineage-page), Audit (audit-page), Policy (policy-page), Sign-in (sign-in-page). All data comes from the
 * console backend (/console/api/*, see api.ts); agent text is always rendered as text and marked as the agent's claim.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson, postJson, setCsrfToken, type Session } from './api';
import { AuditPage } from './audit-page';
import { ErrorBox, Loading } from './components';
import { HistoryPage } from './history-page';
import { InboxPage } from './inbox-page';
import { LineagePage } from './lineage-page';
import { PolicyPage } from './policy-page';
import { RequestPage } from './request-page';
import { interceptLinks, navigate, useLocation } from './router';
import { SignInPage } from './sign-in-page';
import { StandingPage } from './standing-page';
import './styles.css';

const REQUEST_PATH = /^\/console\/requests\/([0-9a-f-]{36})\/?$/i;
const LINEAGE_PATH = /^\/console\/lineage\/([0-9a-f-]{36})\/?$/i;

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const { path, search } = useLocation();

  useEffect(() => {
    getJson<Session>('/console/api/session')
      .then((s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      })
      .catch((err) => {
        if (err instanceof ApiError && err.status === 401) setSession(null);
        else setError(err);
      });
  }, []);

  if (error) return <Shell session={null} path={path}><ErrorBox error={error} /></Shell>;
  if (session === undefined) return <Shell session={null} path={path}><Loading what="your session" /></Shell>;
  if (session === null) return <Shell session={null} path={path}><SignInPage next={path + location.search} /></Shell>;

  let page;
  const req = REQUEST_PATH.exec(path);
  const lin = LINEAGE_PATH.exec(path);
  if (req) page = <RequestPage id={req[1]} session={session} />;
  else if (lin) page = <LineagePage requestId={lin[1]} />;
  else if (path.startsWith('/console/lineage')) page = <LineagePage traceId={search.get('traceId') ?? undefined} requestId={search.get('requestId') ?? undefined} />;
  else if (path.startsWith('/console/history')) page = <HistoryPage session={session} />;
  else if (path.startsWith('/console/audit')) page = <AuditPage session={session} />;
  else if (path.startsWith('/console/policy')) page = <PolicyPage session={session} />;
  else if (path.startsWith('/console/standing')) page = <StandingPage />;
  else if (path === '/console/' || path === '/console' || path.startsWith('/console/inbox')) page = <InboxPage />;
  else page = <p>There is no page at {path}. <a href="/console/">Go to the inbox</a>.</p>;
  return <Shell session={session} path={path}>{page}</Shell>;
}

function Shell({ session, path, children }: { session: Session | null; path: string; children: preact.ComponentChildren }) {
  const nav = (href: string, label: string, active: boolean) => (
    <a href={href} class={active ? 'active' : undefined} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  );
  async function signOut() {
    try {
      await postJson('/console/logout', undefined);
    } finally {
      setCsrfToken(null);
      location.assign('/console/');
    }
  }
  return (
    <>
      <header class="top">
        <span class="brand">Countersign</span>
        {session ? (
          <nav>
            {nav('/console/', 'Inbox', path === '/console/' || path.startsWith('/console/inbox') || path.startsWith('/console/requests'))}
            {nav('/console/history', 'My decisions', path.startsWith('/console/history'))}
            {nav('/console/lineage', 'Lineage', path.startsWith('/console/lineage'))}
            {session.roles.includes('auditor') ? nav('/console/audit', 'Audit', path.startsWith('/console/audit')) : null}
            {nav('/console/standing', 'Standing approvals', path.startsWith('/console/standing'))}
            {nav('/console/policy', 'Policy', path.startsWith('/console/policy'))}
          </nav>
        ) : null}
        {session ? (
          <span class="who">
            <span data-testid="signed-in-as">{session.person.name || session.person.id}</span>
            <span class="muted"> ({session.roles.join(', ') || 'no role'})</span>
            <button type="button" class="link" onClick={signOut}>
              Sign out
            </button>
          </span>
        ) : null}
      </header>
      <main>{children}</main>
    </>
  );
}

interceptLinks();
// `/console` without the slash is redirected by the server; keep the canonical form in the address bar anyway.
if (location.pathname === '/console') navigate('/console/', { replace: true });
render(<App />, document.getElementById('app')!);
