/** The console's configuration rules: the Secure cookie flag stays on except on a loopback http base URL; OIDC keys come together. */
import { ConfigError, loadConfig } from '../../src/config/config';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

it('lets the Secure cookie flag go only on a loopback http base URL', () => {
  expect(problems({ CONSOLE_COOKIE_SECURE: 'false', PUBLIC_BASE_URL: 'https://countersign.example.com' })).toEqual([expect.stringMatching(/^CONSOLE_COOKIE_SECURE: /)]);
  expect(problems({ CONSOLE_COOKIE_SECURE: 'false', PUBLIC_BASE_URL: 'http://countersign.internal:3000' })).toEqual([expect.stringMatching(/^CONSOLE_COOKIE_SECURE: /)]);
  expect(problems({ CONSOLE_COOKIE_SECURE: 'false', PUBLIC_BASE_URL: 'http://localhost:3000' })).toEqual([]);
  expect(problems({ CONSOLE_COOKIE_SECURE: 'false', PUBLIC_BASE_URL: 'http://127.0.0.1:8080' })).toEqual([]);
  expect(problems({ CONSOLE_COOKIE_SECURE: 'false' })).toEqual([]); // the default base URL is http://localhost:PORT
  expect(loadConfig({}).CONSOLE_COOKIE_SECURE).toBe(true);
});

it('needs the IdP issuer and client id together, and parses the console keys', () => {
  expect(problems({ OIDC_ISSUER: 'https://idp.example.com' })).toEqual([expect.stringMatching(/^OIDC_ISSUER: /)]);
  expect(problems({ OIDC_CLIENT_ID: 'countersign' })).toEqual([expect.stringMatching(/^OIDC_ISSUER: /)]);
  expect(problems({ OIDC_CLIENT_SECRET: 's' })).toEqual(expect.arrayContaining([expect.stringMatching(/^OIDC_CLIENT_SECRET: /)]));
  expect(problems({ OIDC_ISSUER: 'not a url', OIDC_CLIENT_ID: 'x' })).toEqual([expect.stringMatching(/^OIDC_ISSUER: /)]);
  const c = loadConfig({ OIDC_ISSUER: 'https://idp.example.com', OIDC_CLIENT_ID: 'countersign', CONSOLE_SESSION_TTL: '3600', CONSOLE_AUDITOR_GROUPS: 'security, audit', CONSOLE_ENABLED: 'false' });
  expect(c).toMatchObject({ OIDC_ISSUER: 'https://idp.example.com', CONSOLE_SESSION_TTL: 3600, CONSOLE_STEP_UP_MAX_AGE_SECONDS: 300, CONSOLE_AUDITOR_GROUPS: 'security, audit', CONSOLE_ENABLED: false });
  expect(problems({ CONSOLE_SESSION_TTL: '10' })).toEqual([expect.stringMatching(/^CONSOLE_SESSION_TTL: /)]);
});

it('serves no console when CONSOLE_ENABLED=false', async () => {
  const { startTestApp } = await import('../support/start-app');
  const t = await startTestApp({ env: { CONSOLE_ENABLED: 'false' } });
  try {
    for (const path of ['/console/api/session', '/console/login', '/console/link/x']) expect((await fetch(`${t.baseUrl}${path}`)).status).toBe(404);
  } finally {
    await t.close();
  }
});
