/** Jest: TypeScript through ts-jest (transpile only, from isolatedModules in tsconfig.json; `tsc --noEmit` type-checks first in `make test`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60_000,
  // Each test file starts its own redis-server; two cores, two workers.
  maxWorkers: 2,
};
