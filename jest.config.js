/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // jose 6 ships ESM only: let swc turn it (and our TypeScript) into CommonJS for jest.
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  transformIgnorePatterns: ['/node_modules/(?!(jose|openid-client|oauth4webapi)/)'],
  testTimeout: 60000,
  setupFiles: ['<rootDir>/test/support/quiet-aws-sdk.ts'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
