import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createApiDocument } from './api-docs';
import { AppModule } from './app.module';
import { loadConfig } from './config/app-config';

/**
 * `npm run openapi`: writes the API's OpenAPI document to openapi.json (or the path given), as
 * /api/docs-json serves it with the default settings. Nest's preview mode builds the routes
 * without running any provider, so nothing is connected to and the file is the same on every
 * machine.
 */
async function main(target = 'openapi.json'): Promise<void> {
  // Never connected to: only its shape matters to the module's definition.
  const databaseUrl = 'postgres://darkroom@127.0.0.1:5432/darkroom';
  const app = await NestFactory.create(AppModule.forRoot(loadConfig({}), databaseUrl), { preview: true, logger: false });
  try {
    await writeFile(resolve(target), `${JSON.stringify(createApiDocument(app), null, 2)}\n`);
  } finally {
    await app.close();
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
