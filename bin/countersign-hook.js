#!/usr/bin/env node
// The `countersign-hook` command (e.g. `countersign-hook claude-code` as a Claude Code PreToolUse hook). It runs the
// TypeScript entry through tsx (a runtime dependency), so it works right after `npm install`, with no build step.
require('tsx/cjs/api').register();
require('../src/hooks/hook-cli.ts')
  .main(process.argv.slice(2))
  // Idle keep-alive sockets must not hold the hook past its answer.
  .then(() => process.stdout.write('', () => process.exit(0)))
  .catch((err) => {
    // A hook that fails must not let the call through: exit 2 blocks it, with the reason.
    process.stderr.write(`countersign-hook: ${(err && err.stack) || err}\n`);
    process.exit(2);
  });
