/** Unit and in-process integration tests. Multi-process end-to-end tests live in test/e2e and run from test/run-all.sh. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
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
