import { TestTemplate } from './test-database';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { darkroomTestTemplate?: TestTemplate }).darkroomTestTemplate?.destroy();
}
