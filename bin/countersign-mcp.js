#!/usr/bin/env node
// The `countersign-mcp` command. It runs the TypeScript entry through tsx (a runtime dependency), so it works right
// after `npm install`, with no build step.
require('tsx/cjs/api').register();
require('../src/mcp/mcp-cli.ts')
  .main(process.argv.slice(2))
  .catch((err) => {
    process.stderr.write(`countersign-mcp: ${(err && err.stack) || err}\n`);
    process.exit(1);
  });
