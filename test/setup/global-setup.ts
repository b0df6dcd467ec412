import { createTestDatabase } from './test-database';
import { TEST_DATABASE_URL_VARIABLE } from './test-env';

export default async function globalSetup(): Promise<void> {
  const database = await createTestDatabase();
  process.env[TEST_DATABASE_URL_VARIABLE] = database.url;
  (globalThis as { darkroomTestDatabase?: typeof database }).darkroomTestDatabase = database;
}
