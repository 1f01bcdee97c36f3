# syntax=docker/dockerfile:1
# Three stages: `build` compiles TypeScript (and generates the Prisma client into src/generated, compiled with it);
# `deps` installs production dependencies only; `runtime` gets compiled JavaScript, those dependencies and the
# migrations, nothing else (no TypeScript, no sources, no Prisma CLI or Studio). Migrations are not run here: they run
# once per deployment, as the compose `migrate` service or a Kubernetes Job (README, Operations → Deployment), with
#   node dist/src/cli/migrate-cli.js
# The base image is pinned to an exact version so a rebuild gets the same Node; bump it deliberately.

FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The workspace's manifest, so `npm ci` matches the lock file (the client itself is not part of the service).
COPY clients/typescript/package.json ./clients/typescript/
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
# The web console's sources: postinstall bundles them into dist/console, which the runtime stage copies with dist.
COPY console ./console
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY adapters ./adapters
# The MCP server and the hook import the TypeScript client's sources: compiled into dist/clients with the service.
COPY clients ./clients
RUN npm run prisma:generate && npm run build

FROM node:20.20.2-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY clients/typescript/package.json ./clients/typescript/
# --ignore-scripts: the postinstall step generates the Prisma client, which the build stage already compiled into
# dist. The Prisma CLI (with Prisma Studio) and tsx are listed as dependencies for `npm start` from a checkout; the
# compiled service never loads them, so they are removed, as is the link to the client workspace.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/prisma node_modules/@prisma/studio-core node_modules/@prisma/dev node_modules/tsx \
      node_modules/typescript node_modules/.bin/prisma node_modules/.bin/tsx node_modules/@countersign \
 && npm cache clean --force

FROM node:20.20.2-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# Read by the migrate step (node dist/src/cli/migrate-cli.js finds prisma/migrations above itself).
COPY --chown=node:node prisma/migrations ./prisma/migrations
COPY --chown=node:node package.json policy.example.yaml ./
# DATA_DIR (default ./.countersign): a generated signing key and the file checkpoint sink. With several nodes give
# every node the same SIGNING_KEY_FILE from a secret and CHECKPOINT_DIR on shared write-once storage (README).
RUN mkdir -p /app/.countersign/checkpoints && chown -R node:node /app/.countersign
VOLUME /app/.countersign
USER node
EXPOSE 3000
# Liveness: the process answers. Readiness (PostgreSQL and Redis reachable) is /readyz, for orchestrators' probes.
HEALTHCHECK --interval=30s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
CMD ["node", "dist/src/main.js"]
