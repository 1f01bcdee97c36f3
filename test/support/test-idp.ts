/**
 * Starts the test identity provider (test-idp-server.mjs, oidc-provider in a child process) and stops it again: a real
 * OpenID Connect provider on this machine, so the console's sign-in runs end to end without mocks.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface TestIdp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  close(): Promise<void>;
}

export async function startTestIdp(opts: { redirectUri: string; accounts: Record<string, { email: string; name: string; emailVerified?: boolean }> }): Promise<TestIdp> {
  const clientId = 'countersign-console';
  const clientSecret = 'test-idp-client-secret-0123456789';
  const child = spawn(process.execPath, [path.join(__dirname, 'test-idp-server.mjs')], {
    env: { ...process.env, IDP_ACCOUNTS: JSON.stringify(opts.accounts), IDP_CLIENT: JSON.stringify({ client_id: clientId, client_secret: clientSecret, redirect_uris: [opts.redirectUri] }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`test IdP did not start: ${stderr}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`test IdP exited (${code}): ${stderr}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { issuer: string }).issuer);
    });
  });
  return {
    issuer,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
