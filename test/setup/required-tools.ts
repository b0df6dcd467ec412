/**
 * Tests that need a program this machine may lack (a browser, redis-server). In CI, where .ci/run
 * sets CI=true and installs them, such a test runs and a missing program fails it; elsewhere it is
 * skipped, saying so: never a test that passes without checking anything.
 */
const TOOLS_REQUIRED = process.env.CI === 'true';

export function whenInstalled(test: jest.It, program: string, installed: boolean, install: string): jest.It {
  if (installed || TOOLS_REQUIRED) return test;
  console.warn(`Skipping the tests that need ${program}: it is not installed (${install})`);
  return test.skip;
}

/** The value of a tool's start-up, which is null where the program is missing: an error then (in CI). */
export function installed<T>(value: T | null, program: string, install: string): T {
  if (value === null) throw new Error(`${program} is not installed, and CI needs it (${install})`);
  return value;
}
