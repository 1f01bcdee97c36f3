import { defineConfig } from 'prisma/config';

// Prisma 7 keeps the connection URL out of schema.prisma. `prisma generate` does not need a reachable database,
// so a placeholder keeps it working on a fresh clone with no .env.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/countersign' },
});
