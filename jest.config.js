/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/src', '<rootDir>/adapters'],
  testMatch: ['**/*.test.ts'],
  // The cluster test starts four services and runs for minutes: `npm run test:cluster` runs it on its own.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster/'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  // ESM-only packages, also when nested: cookie@2 (fastify.inject via light-my-request), content-disposition (the docs
  // page's static files via @fastify/static), jose@6 (grant verification in the client), the Vercel AI SDK
  // and its packages (the recipe's test).
  transformIgnorePatterns: ['/node_modules/(?!(.*/node_modules/)?(cookie|content-disposition|jose|openid-client|oauth4webapi|ai|@ai-sdk|@standard-schema|eventsource-parser|@workflow|@vercel|zod)/)'],
  // Recipes import the client by its package name; tests resolve it to the source (no workspace link needed).
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^@countersign/client$': '<rootDir>/clients/typescript/src/index.ts' },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30000,
};
