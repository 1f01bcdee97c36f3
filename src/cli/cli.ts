/**
 * Operator CLI: `npm run cli -- keys create --name X --scopes submit+read --owner ops@example.com`,
 * `keys revoke --name X`, `keys list`. Keys are printed once and stored only as SHA-256 digests.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config';
import { createAuditService } from '../services/audit-service';
import { createApiKeyService, parseScopes } from '../services/api-key-service';
import { createStore } from '../store/store';
import { runVerifyCommand, VERIFY_USAGE } from './verify-command';

const USAGE = `Usage:
  npm run cli -- keys create --name <name> [--scopes submit+read+decide+audit] [--owner <email>]
  npm run cli -- keys revoke --name <name>
  npm run cli -- keys list
${VERIFY_USAGE}`;

export async function runCli(argv: string[], out: (s: string) => void = console.log, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Offline: no configuration, no database (src/cli/verify-command.ts).
  if (argv[0] === 'verify') return runVerifyCommand(argv.slice(1), out);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { name: { type: 'string' }, scopes: { type: 'string' }, owner: { type: 'string' }, help: { type: 'boolean' } },
  });
  const [group, command] = positionals;
  if (values.help || group !== 'keys' || !['create', 'revoke', 'list'].includes(command ?? '')) {
    out(USAGE);
    return values.help ? 0 : 64;
  }
  const config = loadConfig(env);
  const store = createStore({ url: config.DATABASE_URL, poolSize: 2 });
  const audit = createAuditService({ audit: store.audit });
  const keys = createApiKeyService({ keys: store.apiKeys, audit, cacheMs: 0 });
  const actor = `cli:${env.USER ?? 'operator'}`;
  try {
    if (command === 'list') {
      for (const k of await keys.list()) {
        out(`${k.name}\t${k.scopes.join('+')}\t${k.ownerEmail ?? '-'}\t${k.source}\t${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'}`);
      }
      return 0;
    }
    if (!values.name || !/^[A-Za-z0-9_.-]{1,100}$/.test(values.name)) {
      out('--name is required: 1-100 of A-Z a-z 0-9 _ . -');
      return 64;
    }
    if (command === 'create') {
      if (values.owner && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.owner)) {
        out('--owner must be an email address');
        return 64;
      }
      const { principal, secret } = await keys.create({ name: values.name, scopes: parseScopes(values.scopes, '--scopes'), ownerEmail: values.owner ?? null, actor });
      out(`Created API key ${principal.name} (scopes: ${principal.scopes.join('+')}${principal.ownerEmail ? `, owner: ${principal.ownerEmail}` : ''}).`);
      out('Store it now; it is not shown again:');
      out(secret);
      return 0;
    }
    const revoked = await keys.revoke(values.name, actor);
    out(revoked ? `Revoked API key ${values.name}.` : `No active API key named ${values.name}.`);
    return revoked ? 0 : 1;
  } catch (err) {
    out(`Error: ${(err as Error).message}`);
    return 1;
  } finally {
    await store.close();
  }
}

if (require.main === module) {
  if (existsSync('.env')) process.loadEnvFile('.env');
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
