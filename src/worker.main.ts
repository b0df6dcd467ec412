import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import sharp from 'sharp';
import { ConfigError, loadConfig } from './config/app-config';
import { runMigrations } from './database/migrate';
import { WorkerAppModule } from './worker/worker-app.module';

const logger = new Logger('Worker');

/**
 * A worker process (`npm run start:worker`, or the child `npm start` runs): consumes the queues
 * WORKER_QUEUES names from the database DATABASE_URL names and, with REDIS_URL, from Redis.
 */
async function bootstrap(): Promise<void> {
  const config = loadConfig();
  if (!config.DATABASE_URL) {
    throw new ConfigError('A worker process needs DATABASE_URL: the database its API process uses');
  }
  // A worker may start before any API process has migrated the database; the lock makes it safe.
  await runMigrations(config.DATABASE_URL, { queueOnPostgres: !config.REDIS_URL });
  // One job's input is decoded once and never again: libvips' operation cache would only hold memory.
  sharp.cache(false);
  const app = await NestFactory.createApplicationContext(WorkerAppModule.forRoot(config, config.DATABASE_URL));
  logger.log(
    `Serving queues ${config.WORKER_QUEUES.join(', ')} (concurrency ${config.WORKER_CONCURRENCY}) on ` +
      (config.REDIS_URL ? 'Redis' : 'PostgreSQL'),
  );
  // Stops taking jobs, gives running ones SHUTDOWN_GRACE to finish and hands the rest back to the queue.
  const shutDown = async (signal: string) => {
    logger.log(`${signal}: taking no more jobs; running ones have ${config.SHUTDOWN_GRACE} s to finish, then go back to the queue`);
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', shutDown);
  process.once('SIGTERM', shutDown);
}

bootstrap().catch((error) => {
  logger.error(error instanceof ConfigError ? error.message : ((error as Error)?.stack ?? String(error)));
  process.exit(1);
});
