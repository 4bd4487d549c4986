/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // jose 6 and @kubernetes/client-node 1.x ship ESM only: let swc turn them (and our TypeScript) into CommonJS for jest.
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  transformIgnorePatterns: ['/node_modules/(?!(jose|openid-client|oauth4webapi|@kubernetes/client-node)/)'],
  testTimeout: 60000,
  setupFiles: ['<rootDir>/test/support/quiet-aws-sdk.ts'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // A temp folder per run, checked and removed at the end (test/support/temp-root.js).
  globalSetup: '<rootDir>/test/support/global-setup.js',
  globalTeardown: '<rootDir>/test/support/global-teardown.js',
};
