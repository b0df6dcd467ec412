import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { ConfigError, loadConfig } from './config/app-config';
import { openDatabase } from './database/database';
import { runMigrations } from './database/migrate';
import { WorkerSupervisor } from './worker-supervisor';

const logger = new Logger('Darkroom');

/**
 * `node dist/src/main.js` (npm start): the API, and a worker in a child process.
 * `node dist/src/main.js --api-only` (npm run start:api): the API alone, for scaling out.
 */
async function bootstrap(): Promise<void> {
  const apiOnly = process.argv.includes('--api-only');
  const config = loadConfig();
  const database = await openDatabase(config);
  const worker = apiOnly ? null : new WorkerSupervisor({ ...process.env, DATABASE_URL: database.url }, config.SHUTDOWN_GRACE);
  try {
    await runMigrations(database.url, { queueOnPostgres: !config.REDIS_URL });
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, database.url));
    configureApp(app);
    await app.listen(config.PORT);
    worker?.start();
    logger.log(`Serving the API on http://localhost:${config.PORT}/api (docs: /api/docs)${worker ? ' with a worker' : ''}`);

    const shutDown = async (signal: string) => {
      logger.log(`${signal}: closing`);
      await Promise.all([app.close(), worker?.stop()]);
      await database.close();
      process.exit(0);
    };
    process.once('SIGINT', shutDown);
    process.once('SIGTERM', shutDown);
  } catch (error) {
    await worker?.stop();
    await database.close();
    throw error;
  }
}

bootstrap().catch((error) => {
  logger.error(error instanceof ConfigError ? error.message : ((error as Error)?.stack ?? String(error)));
  process.exit(1);
});
