/**
 * `npm run test:cluster` (issue 21): Darkroom as several nodes, on both queue backends, in
 * test/cluster/. Not part of `npm test`: it keeps this machine's two cores busy for minutes, so
 * .ci/run runs it on its own, after the suites.
 */
const base = require('./jest.config');
const e2e = base.projects.find((project) => project.displayName === 'e2e');

module.exports = {
  testTimeout: 900000,
  // One backend's file after the other: side by side, their ten product processes went past
  // PostgreSQL's default 100 connections.
  maxWorkers: 1,
  reporters: base.reporters,
  projects: [{ ...e2e, displayName: 'cluster', testMatch: ['<rootDir>/test/cluster/*.cluster-spec.ts'] }],
};
