/** Every suite: unit, in-process (real Nest), process-level and end-to-end (real Redis, collector, Jaeger, Prometheus). test/run-all.sh runs it on Node 20 and Node 24. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  modulePathIgnorePatterns: [
    '<rootDir>/test/fixtures/nest10/node_modules',
    '<rootDir>/test/fixtures/nest10/dist',
    '<rootDir>/test/fixtures/nest12/node_modules',
    '<rootDir>/test/fixtures/nest12/dist',
    '<rootDir>/dist',
  ],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2021',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/global-setup.js',
};
