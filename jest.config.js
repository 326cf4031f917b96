/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // One Temporal dev server for the whole run; each test file uses its own task queue.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 420_000,
  maxWorkers: 2,
  // Temporal's native runtime keeps threads alive after teardown; do not let that hold the run open.
  forceExit: true,
  transform: { '^.+\\.tsx?$': ['ts-jest', { isolatedModules: true }] },
};
