/**
 * Operator CLI: API keys, the people directory, evidence packs and offline verification. Keys are printed once and stored only as SHA-256 digests; every
 * change is recorded in the audit trail with the operator as actor (`cli:$USER`).
 *
 *   npm run cli -- keys create --name X --scopes submit+read --owner ops@example.com [--pin-requester id:type]
 *                              [--pin-environment env] [--callback-host host]… [--rate-limit N] [--max-pending N] [--long-polls N]
 *   npm run cli -- keys revoke --name X | keys list
 *   npm run cli -- people add --id carol [--name "Carol Example"] --identity carol@example.com [--identity slack:U…]…
 *   npm run cli -- people link --person carol --identity teams:<aad object id>
 *   npm run cli -- people unlink --identity slack:U… | people remove --person carol | people list
 *   npm run cli -- console link --person carol@example.com      (a one-time web console sign-in link)
 *   npm run cli -- evidence export --since 30d [--until <ISO>] [--out pack.zip]
 *   npm run cli -- verify … | verify grant … | verify pack <pack.zip> --jwks jwks.json   (offline)
 *   npm run cli -- policy check <file> | policy test <file> <cases.yaml>   (offline) | policy replay <file> --since 30d
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig, loadDotEnv } from '../config/config';
import { loadPolicyFile } from '../config/load-policy';
import { AppError } from '../domain/app-error';
import { formatIdentity } from '../domain/people';
import type { RequesterType } from '../domain/policy';
import { createApiKeyService, parseScopes, type KeyPins } from '../services/api-key-service';
import { createAuditService } from '../services/audit-service';
import { createConsoleSessionService } from '../services/console-session-service';
import { createDirectoryService } from '../services/directory-service';
import { createStore } from '../store/store';
import { runVerifyCommand, VERIFY_USAGE } from './verify-command';
import { EVIDENCE_USAGE, runEvidenceCommand } from './evidence-command';
import { runVerifyGrantCommand, VERIFY_GRANT_USAGE } from './verify-grant-command';
import { runVerifyPackCommand, VERIFY_PACK_USAGE } from './verify-pack-command';
import { POLICY_USAGE, runPolicyCommand } from './policy-command';

const USAGE = `Usage:
  npm run cli -- keys create --name <name> [--scopes submit+read] [--owner <person id or identity>]
                             [--pin-requester <id>:<agent|service|human>] [--pin-environment <env>]
                             [--callback-host <host>]... [--rate-limit <per minute>] [--max-pending <n>] [--long-polls <n>]
  npm run cli -- keys revoke --name <name>
  npm run cli -- keys list
  npm run cli -- people add --id <person id> [--name <name>] --identity <identity> [--identity <identity>]...
  npm run cli -- people link --person <person id> --identity <identity>
  npm run cli -- people unlink --identity <identity>
  npm run cli -- people remove --person <person id>
  npm run cli -- people list
  npm run cli -- console link --person <person id or identity>
      prints a one-time sign-in link to the web console (single use, valid CONSOLE_LINK_TTL_SECONDS)

Scopes: submit, read, decide, attest, audit, admin (a key never holds submit with decide or attest; submit, decide and
attest keys need an owner). Identities: email, slack:<user id>, teams:<aad object id>, idp:<issuer>|<subject>.

${POLICY_USAGE}
${EVIDENCE_USAGE}
${VERIFY_USAGE}
${VERIFY_GRANT_USAGE}
${VERIFY_PACK_USAGE}`;

const COMMANDS: Record<string, string[]> = { keys: ['create', 'revoke', 'list'], people: ['add', 'link', 'unlink', 'remove', 'list'], console: ['link'] };

function optionalInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new AppError('validation_failed', `${flag}: a whole number of at least 1`);
  return n;
}

export async function runCli(argv: string[], out: (s: string) => void = console.log, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Offline: no configuration, no database (src/cli/verify-command.ts, verify-grant-command.ts, verify-pack-command.ts).
  if (argv[0] === 'verify' && argv[1] === 'grant') return runVerifyGrantCommand(argv.slice(2), out);
  if (argv[0] === 'verify' && argv[1] === 'pack') return runVerifyPackCommand(argv.slice(2), out);
  if (argv[0] === 'policy') {
    // check and test are offline; replay opens the configuration and the database only when it runs (and closes them).
    try {
      return await runPolicyCommand(argv.slice(1), {
        out,
        openStore: () => {
          const config = loadConfig(env);
          return { config, store: createStore({ url: config.DATABASE_URL, poolSize: 2 }) };
        },
      });
    } catch (err) {
      out(`Error: ${(err as Error).message}`);
      return 1;
    }
  }
  if (argv[0] === 'evidence') {
    const config = loadConfig(env);
    const store = createStore({ url: config.DATABASE_URL, poolSize: 2 });
    try {
      return await runEvidenceCommand(argv.slice(1), { config, store, out });
    } catch (err) {
      out(`Error: ${(err as Error).message}`);
      return 1;
    } finally {
      await store.close();
    }
  }
  if (argv[0] === 'verify') return runVerifyCommand(argv.slice(1), out);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        name: { type: 'string' }, scopes: { type: 'string' }, owner: { type: 'string' }, help: { type: 'boolean' },
        'pin-requester': { type: 'string' }, 'pin-environment': { type: 'string' }, 'callback-host': { type: 'string', multiple: true },
        'rate-limit': { type: 'string' }, 'max-pending': { type: 'string' }, 'long-polls': { type: 'string' },
        id: { type: 'string' }, person: { type: 'string' }, identity: { type: 'string', multiple: true },
      },
    });
  } catch (err) {
    out(`${(err as Error).message}\n\n${USAGE}`);
    return 64;
  }
  const { values, positionals } = parsed;
  const [group, command] = positionals;
  if (values.help || !group || !COMMANDS[group]?.includes(command ?? '')) {
    out(USAGE);
    return values.help ? 0 : 64;
  }
  const config = loadConfig(env);
  const store = createStore({ url: config.DATABASE_URL, poolSize: 2 });
  const audit = createAuditService({ audit: store.audit });
  const actor = `cli:${env.USER ?? 'operator'}`;
  try {
    if (group === 'keys') return await keysCommand(command!, values, { store, audit, actor, out });
    const policy = loadPolicyFile(config.POLICY_FILE);
    const directory = createDirectoryService({ people: store.people, audit, policy: () => policy, log: pino({ level: 'silent' }) });
    await directory.refresh();
    if (group === 'console') {
      if (!values.person) {
        out('console link needs --person <person id or identity>');
        return 64;
      }
      const baseUrl = (config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`).replace(/\/$/, '');
      const sessions = createConsoleSessionService({
        store: store.console, directory, audit, policy: () => policy, baseUrl,
        config: { sessionTtlSeconds: config.CONSOLE_SESSION_TTL, linkTtlSeconds: config.CONSOLE_LINK_TTL_SECONDS, auditorGroups: [] },
      });
      const link = await sessions.createLink(values.person as string, actor);
      out(`One-time sign-in link for ${link.personId} (single use, valid until ${link.expiresAt.toISOString()}):`);
      out(link.url);
      return 0;
    }
    return await peopleCommand(command!, values, { directory, actor, out });
  } catch (err) {
    out(`Error: ${(err as Error).message}`);
    return 1;
  } finally {
    await store.close();
  }
}

type Values = Record<string, string | string[] | boolean | undefined>;

async function keysCommand(
  command: string,
  values: Values,
  ctx: { store: ReturnType<typeof createStore>; audit: ReturnType<typeof createAuditService>; actor: string; out: (s: string) => void },
): Promise<number> {
  const { out } = ctx;
  const keys = createApiKeyService({ keys: ctx.store.apiKeys, audit: ctx.audit, cacheMs: 0 });
  if (command === 'list') {
    for (const k of await keys.list()) {
      out(`${k.name}\t${k.scopes.join('+')}\t${k.owner ?? '-'}\t${k.source}\t${k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active'}`);
    }
    return 0;
  }
  const name = values.name as string | undefined;
  if (!name || !/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
    out('--name is required: 1-100 of A-Z a-z 0-9 _ . -');
    return 64;
  }
  if (command === 'revoke') {
    const revoked = await keys.revoke(name, ctx.actor);
    out(revoked ? `Revoked API key ${name}.` : `No active API key named ${name}.`);
    return revoked ? 0 : 1;
  }
  const pins: KeyPins = {};
  const pinRequester = values['pin-requester'] as string | undefined;
  if (pinRequester) {
    const i = pinRequester.lastIndexOf(':');
    pins.requesterId = i > 0 ? pinRequester.slice(0, i) : pinRequester;
    if (i > 0) pins.requesterType = pinRequester.slice(i + 1) as RequesterType;
  }
  if (values['pin-environment']) pins.environment = values['pin-environment'] as string;
  try {
    const { principal, secret } = await keys.create({
      name,
      scopes: parseScopes(values.scopes as string | undefined, '--scopes'),
      owner: (values.owner as string | undefined) ?? null,
      actor: ctx.actor,
      source: 'cli',
      pins,
      callbackHosts: (values['callback-host'] as string[] | undefined) ?? [],
      limits: {
        ratePerMinute: optionalInt(values['rate-limit'] as string | undefined, '--rate-limit'),
        maxPending: optionalInt(values['max-pending'] as string | undefined, '--max-pending'),
        longPolls: optionalInt(values['long-polls'] as string | undefined, '--long-polls'),
      },
    });
    out(`Created API key ${principal.name} (scopes: ${principal.scopes.join('+')}${principal.owner ? `, owner: ${principal.owner}` : ''}).`);
    out('Store it now; it is not shown again:');
    out(secret);
    return 0;
  } catch (err) {
    if (err instanceof AppError && err.code === 'invalid_key') {
      out(`Error: ${err.message}`);
      return 64;
    }
    throw err;
  }
}

async function peopleCommand(
  command: string,
  values: Values,
  ctx: { directory: ReturnType<typeof createDirectoryService>; actor: string; out: (s: string) => void },
): Promise<number> {
  const { directory, actor, out } = ctx;
  const identities = (values.identity as string[] | undefined) ?? [];
  switch (command) {
    case 'list':
      for (const p of directory.current().list().sort((a, b) => a.id.localeCompare(b.id))) {
        out(`${p.id}\t${p.name ?? '-'}\t${p.source}\t${p.identities.map((l) => `${formatIdentity(l.identity)}${l.verifiedBy === 'declared' ? '' : ` (${l.verifiedBy})`}`).join(' ')}`);
      }
      return 0;
    case 'add': {
      if (!values.id || identities.length === 0) {
        out('people add needs --id and at least one --identity');
        return 64;
      }
      const p = await directory.add({ id: values.id as string, name: values.name as string | undefined, identities, source: 'cli' }, actor);
      out(`Added ${p.id}: ${p.identities.map((l) => formatIdentity(l.identity)).join(', ')}.`);
      return 0;
    }
    case 'link': {
      if (!values.person || identities.length !== 1) {
        out('people link needs --person and one --identity');
        return 64;
      }
      const p = await directory.link(values.person as string, identities[0], actor);
      out(`Linked ${identities[0]} to ${p.id}.`);
      return 0;
    }
    case 'unlink': {
      if (identities.length !== 1) {
        out('people unlink needs one --identity');
        return 64;
      }
      const done = await directory.unlink(identities[0], actor);
      out(done ? `Unlinked ${identities[0]}.` : `Nobody has ${identities[0]}.`);
      return done ? 0 : 1;
    }
    default: {
      if (!values.person) {
        out('people remove needs --person');
        return 64;
      }
      const done = await directory.remove(values.person as string, actor);
      out(done ? `Removed ${values.person}.` : `No person ${values.person}.`);
      return done ? 0 : 1;
    }
  }
}

if (require.main === module) {
  loadDotEnv();
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
