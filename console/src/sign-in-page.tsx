/** The sign-in page: the console has no passwords; people sign in with the organisation's identity provider. */
export function SignInPage({ next }: { next: string }) {
  // Only a path of the console itself is passed on: the backend redirects there after sign-in.
  const target = next.startsWith('/console/') ? next : '/console/';
  return (
    <section class="sign-in">
      <h1>Sign in</h1>
      <p>Approvers and auditors sign in to see the requests waiting for them, decide, and check the audit trail.</p>
      <p>
        <a class="button primary" href={`/console/login?next=${encodeURIComponent(target)}`}>
          Sign in with your identity provider
        </a>
      </p>
      <p class="muted">A one-time link sent to you in Slack or Teams also signs you in.</p>
    </section>
  );
}
