/**
 * A real OpenID Connect provider for the console's tests (`oidc-provider`, the certified implementation), run as a
 * child process because the package is ESM-only. Everything an IdP does is real: discovery, the authorization
 * endpoint (PKCE required, state, nonce, prompt=login, max_age), signed ID tokens, the token and userinfo endpoints.
 * Only the login form is automated: the interaction page signs in as whichever account the test chose last
 * (`POST /_test/next-login {"account": "…"}`), and consent is implied (the console asks for openid email profile).
 *
 * Started with env IDP_CLIENTS (JSON list of clients) and IDP_ACCOUNTS (JSON: id → claims). Prints `listening <url>`.
 */
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const clients = JSON.parse(process.env.IDP_CLIENTS ?? '[]');
const accounts = JSON.parse(process.env.IDP_ACCOUNTS ?? '{}');
let nextLogin = Object.keys(accounts)[0];

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    cookies: { keys: ['countersign-test-idp'] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const claims = accounts[sub];
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    // Consent is implied: every client of this test IdP gets the scopes it asks for.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('idp server_error', err));
  const handle = provider.callback();

  server.on('request', async (req, res) => {
    try {
      if (req.method === 'POST' && req.url === '/_test/next-login') {
        let body = '';
        for await (const chunk of req) body += chunk;
        nextLogin = JSON.parse(body).account;
        res.writeHead(204).end();
        return;
      }
      if (req.url?.startsWith('/interaction/')) {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name !== 'login' && details.prompt.name !== 'consent') throw new Error(`unexpected prompt ${details.prompt.name}`);
        await provider.interactionFinished(req, res, { login: { accountId: nextLogin } }, { mergeWithLastSubmission: false });
        return;
      }
      handle(req, res);
    } catch (err) {
      console.error('idp error', err);
      res.writeHead(500).end(String(err));
    }
  });
  console.log(`listening ${issuer}`);
});
