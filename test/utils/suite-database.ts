import { dropDatabase, ensureDatabase, withDatabase } from '../../src/database/database-admin';
import { runMigrations } from '../../src/database/migrate';
import { TEST_DATABASE_URL_VARIABLE } from '../setup/test-env';

/**
 * A migrated database of one suite's own, on the run's server, for a suite whose assertions cover
 * every row of a table (an aggregate over all users) and so cannot share one with suites running
 * in parallel.
 */
export async function createSuiteDatabase(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const runUrl = process.env[TEST_DATABASE_URL_VARIABLE];
  if (!runUrl) throw new Error(`${TEST_DATABASE_URL_VARIABLE} is unset: run the e2e tests through jest`);
  const serverUrl = withDatabase(runUrl, 'postgres');
  const database = `${new URL(runUrl).pathname.slice(1)}_${name}`;
  await ensureDatabase(serverUrl, database);
  const url = withDatabase(runUrl, database);
  await runMigrations(url, { queueOnPostgres: true });
  return { url, drop: () => dropDatabase(serverUrl, database) };
}
