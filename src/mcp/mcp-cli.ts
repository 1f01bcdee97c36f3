/**
 * `countersign-mcp`: Countersign's MCP server over stdio, or (`countersign-mcp proxy -- <command>`) the approval
 * proxy in front of another MCP server. Configured by COUNTERSIGN_URL and COUNTERSIGN_API_KEY (a key with
 * submit+read); COUNTERSIGN_REQUESTER_ID, COUNTERSIGN_ON_BEHALF_OF, COUNTERSIGN_ENVIRONMENT describe the agent.
 * stdout carries the protocol: everything else goes to stderr.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CountersignClient } from '../../clients/typescript/src/index';
import { createApprovalServer } from './approval-server';
import { startApprovalProxy } from './approval-proxy';

const USAGE = `Usage:
  countersign-mcp                                   Countersign's tools (request_approval, get_approval, report_outcome) over stdio
  countersign-mcp proxy [--name <server>] [--wait-seconds <n>] -- <command> [args…]
                                                    every tools/call of <command>'s MCP server approved by Countersign first
Environment: COUNTERSIGN_URL, COUNTERSIGN_API_KEY (submit+read), optional COUNTERSIGN_REQUESTER_ID, COUNTERSIGN_ON_BEHALF_OF,
COUNTERSIGN_ENVIRONMENT, COUNTERSIGN_MCP_WAIT_SECONDS (bound of a call's wait), COUNTERSIGN_MCP_PROGRESS_SECONDS.`;

function fail(message: string): never {
  process.stderr.write(`countersign-mcp: ${message}\n\n${USAGE}\n`);
  process.exit(64);
}

function seconds(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) fail(`${what} must be a number of seconds`);
  return n;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!env.COUNTERSIGN_URL || !env.COUNTERSIGN_API_KEY) fail('set COUNTERSIGN_URL and COUNTERSIGN_API_KEY');
  const client = new CountersignClient({ baseUrl: env.COUNTERSIGN_URL, apiKey: env.COUNTERSIGN_API_KEY });
  const transport = new StdioServerTransport();

  if (argv[0] === 'proxy') {
    const dash = argv.indexOf('--');
    if (dash < 0 || dash === argv.length - 1) fail('proxy needs the upstream command after --');
    const flags = argv.slice(1, dash);
    let name: string | undefined;
    let waitSeconds = seconds(env.COUNTERSIGN_MCP_WAIT_SECONDS, 'COUNTERSIGN_MCP_WAIT_SECONDS');
    for (let i = 0; i < flags.length; i++) {
      if (flags[i] === '--name') name = flags[++i];
      else if (flags[i] === '--wait-seconds') waitSeconds = seconds(flags[++i], '--wait-seconds');
      else fail(`unknown option ${flags[i]}`);
    }
    const [command, ...args] = argv.slice(dash + 1);
    const proxy = await startApprovalProxy({ client, command, args, name, maxWaitSeconds: waitSeconds, env });
    transport.onclose = () => void proxy.close().then(() => process.exit(0));
    await proxy.connect(transport);
    process.stderr.write(`countersign-mcp: proxying ${proxy.upstreamName} (${command}); every tool call is approved by ${client.baseUrl} first\n`);
    return;
  }
  if (argv.length) fail(`unknown command ${argv[0]}`);
  const server = createApprovalServer({
    client,
    maxWaitSeconds: seconds(env.COUNTERSIGN_MCP_WAIT_SECONDS, 'COUNTERSIGN_MCP_WAIT_SECONDS'),
    progressSeconds: seconds(env.COUNTERSIGN_MCP_PROGRESS_SECONDS, 'COUNTERSIGN_MCP_PROGRESS_SECONDS'),
  });
  await server.connect(transport);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`countersign-mcp: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
