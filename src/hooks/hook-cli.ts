/**
 * `countersign-hook <agent>`: agent-runtime hooks answered by Countersign. `claude-code` reads Claude Code's
 * `PreToolUse` input on stdin and prints the hook decision on stdout (exit 0). Options: `--timeout <s>` (the hook's
 * timeout in settings.json, default 60), `--on-timeout ask|deny` (default deny; never allow). Configured by
 * COUNTERSIGN_URL and COUNTERSIGN_API_KEY.
 */
import { CountersignClient } from '../../clients/typescript/src/index';
import { answerPreToolUse, type PreToolUseInput } from './claude-code-hook';

const USAGE = 'Usage: countersign-hook claude-code [--timeout <seconds>] [--on-timeout ask|deny]   (PreToolUse input on stdin; COUNTERSIGN_URL, COUNTERSIGN_API_KEY)';

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

/** Exit 2 with the reason on stderr: Claude Code blocks the call and shows the reason. */
function block(reason: string): never {
  process.stderr.write(`countersign-hook: ${reason}\n`);
  process.exit(2);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (argv[0] !== 'claude-code') block(`unknown hook ${argv[0] ?? '(none)'}\n${USAGE}`);
  let timeoutSeconds = Number(env.COUNTERSIGN_HOOK_TIMEOUT_SECONDS ?? 60);
  let onTimeout = (env.COUNTERSIGN_HOOK_ON_TIMEOUT ?? 'deny') as string;
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '--timeout') timeoutSeconds = Number(argv[++i]);
    else if (argv[i] === '--on-timeout') onTimeout = argv[++i];
    else block(`unknown option ${argv[i]}\n${USAGE}`);
  }
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) block('--timeout must be a positive number of seconds');
  if (onTimeout !== 'ask' && onTimeout !== 'deny') block('--on-timeout must be ask or deny (a hook never answers allow without an approval)');
  if (!env.COUNTERSIGN_URL || !env.COUNTERSIGN_API_KEY) block('set COUNTERSIGN_URL and COUNTERSIGN_API_KEY; not approved');

  let input: PreToolUseInput;
  try {
    input = JSON.parse(await readStdin()) as PreToolUseInput;
  } catch {
    block('the hook input on stdin is not JSON; not approved');
  }
  if (typeof input?.tool_name !== 'string' || typeof input.session_id !== 'string') block('the hook input has no tool_name or session_id; not approved');
  const client = new CountersignClient({ baseUrl: env.COUNTERSIGN_URL, apiKey: env.COUNTERSIGN_API_KEY });
  const output = await answerPreToolUse(input, { client, timeoutSeconds, onTimeout, env, stateDir: env.COUNTERSIGN_HOOK_STATE_DIR });
  process.stdout.write(`${JSON.stringify(output)}\n`);
}
