/** Where an e2e suite finds its own database: set for each test file by the suite environment. */
export const TEST_DATABASE_URL_VARIABLE = 'DARKROOM_TEST_DATABASE_URL';

/** The run's migrated template database, which each suite's databases are copied from: set by the global setup. */
export const TEST_TEMPLATE_URL_VARIABLE = 'DARKROOM_TEST_TEMPLATE_URL';
