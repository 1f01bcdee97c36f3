#!/usr/bin/env node
// Keeps package-lock.json acceptable to `npm ci` when the registry we install from mirrors only the packages for
// our own platform. npm resolves optional platform binaries (@swc/core-darwin-arm64, …) at lock time; when the
// mirror answers 404 it silently leaves them out, and `npm ci` then rejects the lock as out of sync. We add those
// entries back marked optional and restricted to their os/cpu, so npm skips them on every other platform without
// fetching anything — exactly what it does with a lock written against the full public registry.
// Usage: node scripts/lock-foreign-optionals.js  (after `npm install`, before committing the lock)
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const file = path.resolve(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const pkgs = lock.packages;
const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openbsd', 'netbsd', 'sunos', 'aix', 'wasi'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64', 'mips64el', 'wasm32'];

function platformOf(name) {
  const parts = name.split('/').pop().split('-');
  const os = parts.find((p) => OS.includes(p)) ?? (parts.includes('win32') ? 'win32' : undefined);
  const cpu = parts.find((p) => CPU.includes(p)) ?? (parts.includes('universal') ? 'arm64' : undefined);
  return { os, cpu };
}

let added = 0;
for (const [where, meta] of Object.entries(pkgs)) {
  for (const [dep, spec] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = `${where ? `${where}/` : ''}node_modules/${dep}`;
    if (pkgs[nested] || pkgs[`node_modules/${dep}`]) continue;
    const { os, cpu } = platformOf(dep);
    if (!os && !cpu) continue; // not a platform binary: leave genuine problems for npm to report
    if (os === process.platform && (!cpu || cpu === process.arch)) continue; // ours: must really be installed
    pkgs[`node_modules/${dep}`] = {
      version: String(spec).replace(/^[\^~=]/, ''),
      optional: true,
      ...(meta.dev ? { dev: true } : {}),
      ...(os ? { os: [os] } : {}),
      ...(cpu ? { cpu: [cpu] } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`lock-foreign-optionals: added ${added} optional platform entries`);
