import { TestDatabase } from './test-database';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { darkroomTestDatabase?: TestDatabase }).darkroomTestDatabase?.destroy();
}
