import { createTestTemplate } from './test-database';
import { TEST_TEMPLATE_URL_VARIABLE } from './test-env';

export default async function globalSetup(): Promise<void> {
  const template = await createTestTemplate();
  process.env[TEST_TEMPLATE_URL_VARIABLE] = template.url;
  (globalThis as { darkroomTestTemplate?: typeof template }).darkroomTestTemplate = template;
}
