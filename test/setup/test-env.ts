/** Where the e2e workers find the run's database: set by the global setup, inherited by workers. */
export const TEST_DATABASE_URL_VARIABLE = 'DARKROOM_TEST_DATABASE_URL';
