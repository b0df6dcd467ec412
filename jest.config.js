/** `npm test` runs both projects: unit specs beside the code, end-to-end suites in test/. */
const transform = {
  '^.+\\.ts$': 'ts-jest',
  // ES modules only (see the transformer): compiled to CommonJS for jest's module loader.
  'node_modules/(@nestjs/terminus|@tus|srvx)/.+\\.m?js$': '<rootDir>/test/setup/esm-package-transform.js',
};
const transformIgnorePatterns = ['/node_modules/(?!(@nestjs/terminus|@tus|srvx)/)'];

module.exports = {
  testTimeout: 30000,
  // Test files run side by side, each e2e file on a database of its own. Two at a time on this
  // 2-core machine: with three, the run went past PostgreSQL's default 100 connections ("too many
  // clients": each suite's API, worker and queue pools keep idle connections, and the fault
  // suite's processes alone hold up to 64), and time-bound tests ran out of time.
  maxWorkers: 2,
  // A file that leaves something running (a queue consumer whose database the file's teardown
  // then drops) must not take the next file in the same process down with it: a worker that has
  // grown past this after a file is replaced by a fresh process. Once, on Node 22, such a leftover
  // spun the whole process, and the next file's timeouts could never fire.
  workerIdleMemoryLimit: '300MB',
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: __dirname,
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/clients/typescript/src/**/*.spec.ts'],
      transform,
      transformIgnorePatterns,
    },
    {
      displayName: 'e2e',
      rootDir: __dirname,
      // The end-to-end suites, and the medium ones (test/medium/: a service or repository on its
      // real PostgreSQL, without HTTP or a queue): both need a database of their own.
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts', '<rootDir>/test/medium/**/*.medium-spec.ts'],
      transform,
      transformIgnorePatterns,
      // A database of its own for each test file, copied from the template the global setup migrates.
      testEnvironment: '<rootDir>/test/setup/suite-environment.ts',
      globalSetup: '<rootDir>/test/setup/global-setup.ts',
      globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
    },
  ],
};
