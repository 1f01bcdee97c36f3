// A test identity provider (OpenID Connect, oidc-provider) in its own Node process: oidc-provider is ESM-only with
// ESM dependencies, which jest's CommonJS runtime cannot load, so tests start this file with `node` and read the
// issuer URL from its first line of output. Accounts and the one client come from the environment:
//   IDP_ACCOUNTS = {"alice":{"email":"alice@example.com","name":"Alice Example"}, ...}   (the login is the account id)
//   IDP_CLIENT   = {"client_id":"…","client_secret":"…","redirect_uris":["…/console/callback"]}
// The sign-in page is oidc-provider's development interaction (any password); consent is granted without asking,
// as an organisation's IdP does for its own first-party applications.
import http from 'node:http';
import Provider from 'oidc-provider';

const accounts = JSON.parse(process.env.IDP_ACCOUNTS ?? '{}');
const client = JSON.parse(process.env.IDP_CLIENT ?? '{}');

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{ grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic', require_auth_time: true, ...client }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // The console reads who signed in from the ID token: put the scopes' claims there.
    conformIdTokenClaims: false,
    cookies: { keys: ['countersign-test-idp-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx, id) {
      const a = accounts[id];
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, email: a.email, email_verified: a.emailVerified ?? true, name: a.name }) };
    },
    async loadExistingGrant(ctx) {
      const known = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (known) return ctx.oidc.provider.Grant.find(known);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  // oidc-provider warns about its development defaults on stderr; the test reads only stdout.
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
