/**
 * Jest: TypeScript through ts-jest (transpile only, from isolatedModules in
 * tsconfig.json; `tsc --noEmit` type-checks first in `make test`). Two
 * projects: every test (the JSON transport in-process, as `make start` runs
 * it), and the gateway suites again with the remote mode (GATEWAY_MODE=remote,
 * HTTP → gRPC → the same service), so both modes are held to the same tests.
 */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
};

module.exports = {
  testTimeout: 60_000,
  // Each test file starts its own redis-server; two cores, two workers.
  maxWorkers: 2,
  // A worker past this heap after a test file is replaced (killed at once, silently). What a worker
  // keeps between files is about 100 MB; the rest is garbage V8 has not collected yet, and a worker
  // that ends with 0.5-0.9 GB takes 200-300 ms to tear down its heap once its last file is done,
  // more with both cores busy: past jest's 500 ms it is force-exited with the "failed to exit
  // gracefully" warning, though no handle is open. Under this limit it ends in well under 100 ms.
  workerIdleMemoryLimit: '400MB',
  projects: [
    { ...common, displayName: 'all', roots: ['<rootDir>/test'], testMatch: ['**/*.test.ts'] },
    {
      ...common,
      displayName: 'gateway-remote',
      roots: ['<rootDir>/test'],
      testMatch: ['**/gateway/*.test.ts', '**/props/gateway-input.test.ts', '**/props/transports.test.ts', '**/faults/slow-store.test.ts'],
      // Suites that already pin their mode (a fake upstream, a spawned gateway process).
      testPathIgnorePatterns: ['/gateway/upstream.test.ts', '/gateway/process.test.ts', '/gateway/json.test.ts', '/gateway/limits.test.ts'],
      setupFiles: ['<rootDir>/test/helpers/remote-mode.js'],
    },
  ],
};
