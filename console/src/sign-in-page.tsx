/**
 * The sign-in page: the console has no passwords. People sign in with the organisation's identity provider, or, where
 * none is configured (GET /console/api/sign-in says which), with a one-time link an administrator sends them.
 */
import { useEffect, useState } from 'preact/hooks';
import { getJson } from './api';

export function SignInPage({ next }: { next: string }) {
  // Only a path of the console itself is passed on: the backend redirects there after sign-in.
  const target = next.startsWith('/console/') ? next : '/console/';
  // Until the answer arrives (or if it fails), offer the IdP: the backend says plainly if none is configured.
  const [idp, setIdp] = useState(true);
  useEffect(() => {
    getJson<{ idp: boolean }>('/console/api/sign-in')
      .then((a) => setIdp(a.idp))
      .catch(() => undefined);
  }, []);
  return (
    <section class="sign-in">
      <h1>Sign in</h1>
      <p>Approvers and auditors sign in to see the requests waiting for them, decide, and check the audit trail.</p>
      {idp ? (
        <p>
          <a class="button primary" href={`/console/login?next=${encodeURIComponent(target)}`}>
            Sign in with your identity provider
          </a>
        </p>
      ) : (
        <p data-testid="no-idp">
          This service signs people in with one-time links: ask an administrator for one
          (<code>npm run cli -- console link --person you@example.com</code>) and open it in this browser.
        </p>
      )}
      {idp ? <p class="muted">A one-time link from an administrator also signs you in.</p> : null}
    </section>
  );
}
