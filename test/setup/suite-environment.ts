import NodeEnvironment from 'jest-environment-node';
import { copyTemplate, TestDatabase } from './test-database';
import { TEST_DATABASE_URL_VARIABLE, TEST_TEMPLATE_URL_VARIABLE } from './test-env';

/**
 * Each e2e test file runs with a database of its own, copied from the run's migrated template
 * before the file loads and dropped after its last hook: suites running side by side share no
 * rows and, on the PostgreSQL queue backend (whose queues live in the database), no queues.
 */
export default class SuiteEnvironment extends NodeEnvironment {
  private database?: TestDatabase;

  override async setup(): Promise<void> {
    await super.setup();
    const templateUrl = process.env[TEST_TEMPLATE_URL_VARIABLE];
    if (!templateUrl) throw new Error(`${TEST_TEMPLATE_URL_VARIABLE} is unset: the e2e project's global setup did not run`);
    this.database = await copyTemplate(templateUrl);
    this.global.process.env[TEST_DATABASE_URL_VARIABLE] = this.database.url;
  }

  override async teardown(): Promise<void> {
    try {
      await this.database?.drop();
    } finally {
      await super.teardown();
    }
  }
}
