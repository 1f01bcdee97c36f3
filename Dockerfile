# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript and generate the Prisma client in a build stage, ship only production
# dependencies, compiled JS, migrations and the example policy, and run as an unprivileged user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
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
COPY clients ./clients
RUN npm run prisma:generate && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/prisma ./prisma
COPY --chown=node:node package.json policy.example.yaml ./
COPY --chown=node:node adapters ./adapters
# DATA_DIR (default ./.countersign): a generated signing key and the file checkpoint sink. Mount a volume here, or
# better, give SIGNING_KEY_FILE from a secret and CHECKPOINT_DIR on write-once storage (README, Audit trail).
RUN mkdir -p /app/.countersign && chown node:node /app/.countersign
VOLUME /app/.countersign
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# Applies pending migrations (offline-capable, same ledger as `prisma migrate deploy`), then starts the service.
CMD ["sh", "-c", "node dist/src/cli/migrate-cli.js && exec node dist/src/main.js"]
