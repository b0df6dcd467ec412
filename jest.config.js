/** `npm test` runs both projects: unit specs beside the code, end-to-end suites in test/. */
const transform = {
  '^.+\\.ts$': 'ts-jest',
  // ES modules only (see the transformer): compiled to CommonJS for jest's module loader.
  'node_modules/@nestjs/terminus/.+\\.js$': '<rootDir>/test/setup/esm-package-transform.js',
};
const transformIgnorePatterns = ['/node_modules/(?!@nestjs/terminus/)'];

module.exports = {
  testTimeout: 30000,
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: __dirname,
      testMatch: ['<rootDir>/src/**/*.spec.ts'],
      transform,
      transformIgnorePatterns,
    },
    {
      displayName: 'e2e',
      rootDir: __dirname,
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      transform,
      transformIgnorePatterns,
      // A database of its own for each test file, copied from the template the global setup migrates.
      testEnvironment: '<rootDir>/test/setup/suite-environment.ts',
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
