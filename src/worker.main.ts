import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import sharp from 'sharp';
import { ConfigError, loadConfig } from './config/app-config';
import { AppLogger } from './common/app-logger';
import { runMigrations } from './database/migrate';
import { StartPhases } from './common/start-phases';
import { isWorkerDatabaseMessage, SUPERVISED, WORKER_READY } from './worker-supervisor';
import { WorkerAppModule } from './worker/worker-app.module';

const appLogger = new AppLogger();
Logger.overrideLogger(appLogger);
const logger = new Logger('Worker');

/**
 * A worker process (`npm run start:worker`, or the child `npm start` runs): consumes the queues
 * WORKER_QUEUES names from the database DATABASE_URL names (under `npm start`, the one its API
 * process opened) and, with REDIS_URL, from Redis.
 */
async function bootstrap(): Promise<void> {
  const supervised = process.argv.includes(SUPERVISED);
  const given = supervised ? databaseFromSupervisor() : undefined;
  const config = loadConfig();
  appLogger.configure({ format: config.LOG_FORMAT, level: config.LOG_LEVEL });
  const phases = new StartPhases('Worker');
  phases.loaded();
  let url: string;
  if (given) {
    url = await phases.time('waiting for the database from the API process', () => given);
  } else {
    if (!config.DATABASE_URL) {
      throw new ConfigError('A worker process needs DATABASE_URL: the database its API process uses');
    }
    url = config.DATABASE_URL;
    // A worker may start before any API process has migrated the database; the lock makes it safe.
    await phases.time('migrations check', () => runMigrations(url, { queueOnPostgres: !config.REDIS_URL }));
  }
  // One job's input is decoded once and never again: libvips' operation cache would only hold memory.
  sharp.cache(false);
  const app = await phases.time('worker modules', () =>
    NestFactory.createApplicationContext(WorkerAppModule.forRoot(config, url), { logger: appLogger, abortOnError: false }),
  );
  phases.total();
  logger.log(
    `Serving queues ${config.WORKER_QUEUES.join(', ')} (concurrency ${config.WORKER_CONCURRENCY}) on ` +
      (config.REDIS_URL ? 'Redis' : 'PostgreSQL'),
  );
  // Stops taking jobs, gives running ones SHUTDOWN_GRACE to finish and hands the rest back to the
  // queue. Once: a second signal (npm passes a Ctrl-C on, the terminal sends it too) must not
  // start a second close in the middle of the hand-back.
  let stopping = false;
  const shutDown = (why: string, quietly = false) => {
    if (stopping) return;
    stopping = true;
    if (!quietly)
      logger.log(`${why}: taking no more jobs; running ones have ${config.SHUTDOWN_GRACE} s to finish, then go back to the queue`);
    app.close().then(
      () => {
        if (!quietly) logger.log('Stopped');
        process.exit(0);
      },
      (error) => {
        logger.error(`While stopping: ${(error as Error)?.stack ?? error}`);
        process.exit(1);
      },
    );
  };
  // Under `npm start`, the API process stops this worker with SIGTERM, having said what a stop does.
  process.on('SIGTERM', () => shutDown('SIGTERM', supervised));
  process.on('SIGINT', () => shutDown('SIGINT'));
  process.on('SIGHUP', () => shutDown('SIGHUP'));
  if (supervised) {
    // Should the API process die instead, the IPC channel closes and the worker stops itself.
    process.once('disconnect', () => shutDown('The API process is gone'));
    process.send?.(WORKER_READY);
  }
}

/**
 * Under `npm start`, the database that the API process opened and migrated, sent once it has. The
 * listener is set before the first await, so that the message cannot arrive unheard.
 */
function databaseFromSupervisor(): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isWorkerDatabaseMessage(message)) return;
      process.off('message', onMessage);
      resolve(message.url);
    };
    process.on('message', onMessage);
  });
}

bootstrap().catch((error) => {
  logger.error(error instanceof ConfigError ? error.message : ((error as Error)?.stack ?? String(error)));
  process.exit(1);
});
