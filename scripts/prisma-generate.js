#!/usr/bin/env node
// Generates the Prisma client without network access.
// Prisma 7's CLI downloads a native schema engine before every command, even `generate`, which never runs it.
// Air-gapped installs (a real deployment for our users) cannot download it, so we point
// PRISMA_SCHEMA_ENGINE_BINARY at an existing file unless the operator set a real one.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
env.CHECKPOINT_DISABLE = '1';

const cli = require.resolve('prisma/build/index.js');
const res = spawnSync(process.execPath, [cli, 'generate'], {
  cwd: path.resolve(__dirname, '..'),
  env,
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
