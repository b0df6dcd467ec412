import { copyTemplate } from '../setup/test-database';
import { TEST_DATABASE_URL_VARIABLE, TEST_TEMPLATE_URL_VARIABLE } from '../setup/test-env';

/**
 * Another migrated database for the suite, beside its own (testEnv's), copied from the run's
 * template: for a test that needs a second installation, or an empty one part-way through the
 * suite. Dropped by `drop()`, and in any case with the suite's own database.
 */
export async function createSuiteDatabase(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const suiteUrl = process.env[TEST_DATABASE_URL_VARIABLE];
  const templateUrl = process.env[TEST_TEMPLATE_URL_VARIABLE];
  if (!suiteUrl || !templateUrl) throw new Error(`${TEST_DATABASE_URL_VARIABLE} is unset: run the e2e tests through jest`);
  return copyTemplate(templateUrl, decodeURIComponent(new URL(suiteUrl).pathname.slice(1)), name);
}
