import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppLogger } from './common/app-logger';
import { StartPhases } from './common/start-phases';
import { ConfigError, loadConfig } from './config/app-config';
import { DatabaseConnection, openDatabase } from './database/database';
import { EmbeddedPostgresError } from './database/embedded-postgres';
import type { ShutdownDrain } from './health/shutdown-drain';
import { WorkerSupervisor } from './worker-supervisor';

const appLogger = new AppLogger();
Logger.overrideLogger(appLogger);
const logger = new Logger('Darkroom');

/** Stop signals: Ctrl-C, a service manager's stop, the terminal closing. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Thrown between start-up steps when a stop signal arrived during one of them. */
class StopRequested extends Error {}

/**
 * `node dist/src/main.js` (npm start): the API, and a worker in a child process.
 * `node dist/src/main.js --api-only` (npm run start:api): the API alone, for scaling out.
 *
 * A stop (Ctrl-C, SIGTERM, SIGHUP) closes the HTTP server once its requests in flight are
 * answered, lets the worker finish or hand back its jobs, closes the pools and only then stops
 * the embedded PostgreSQL, which runs in a session of its own so that the terminal's Ctrl-C does
 * not reach it. SIGTERM, which orchestrators and service managers send, first drains the API for
 * SHUTDOWN_DRAIN seconds (ShutdownDrain): readiness fails while the requests are still served, so
 * that a load balancer moves away first. Ctrl-C and SIGHUP come from a person at a terminal, whom a
 * wait would only hold up. A signal during the start is honoured, without a drain, as soon as the
 * current step ends: the node was not ready yet.
 */
async function main(): Promise<void> {
  const apiOnly = process.argv.includes('--api-only');
  const config = loadConfig();
  appLogger.configure({ format: config.LOG_FORMAT, level: config.LOG_LEVEL });
  let database: DatabaseConnection | undefined;
  let app: NestExpressApplication | undefined;
  let drain: ShutdownDrain | undefined;
  let worker: WorkerSupervisor | undefined;
  let started = false;
  let stopSignal: NodeJS.Signals | undefined;
  let stoppedAt = 0;
  let drainEndsAt = 0;

  const stop = async (drainSeconds = 0): Promise<void> => {
    const closeApi = async () => {
      if (drainSeconds > 0) await drain?.drain(drainSeconds);
      await app?.close();
    };
    await Promise.all([closeApi(), worker?.stop()]);
    await database?.close();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    // npm passes the terminal's Ctrl-C on to this process, which also gets it from the terminal:
    // one stop for both. A later press only hears how long the stop may take.
    if (stopSignal) {
      if (Date.now() - stoppedAt > 1000) {
        const drainLeft = Math.ceil((drainEndsAt - Date.now()) / 1000);
        const waits = [
          drainLeft > 0 ? `the API drains ${drainLeft} s more (SHUTDOWN_DRAIN)` : '',
          worker ? `running jobs have up to ${config.SHUTDOWN_GRACE} s (SHUTDOWN_GRACE) to finish` : '',
        ].filter(Boolean);
        logger.log(`Still stopping${waits.length ? `: ${waits.join('; ')}` : ''}`);
      }
      return;
    }
    stopSignal = signal;
    stoppedAt = Date.now();
    if (!started) {
      logger.log(`${signal}: stopping once the current start-up step is done`);
      return;
    }
    const drainSeconds = signal === 'SIGTERM' ? config.SHUTDOWN_DRAIN : 0;
    drainEndsAt = stoppedAt + drainSeconds * 1000;
    logger.log(
      `${signal}: ${drainSeconds > 0 ? `draining for ${drainSeconds} s (SHUTDOWN_DRAIN): readiness answers 503, requests are still served; then ` : ''}` +
        `stopping${worker ? `; running jobs have up to ${config.SHUTDOWN_GRACE} s to finish, then go back to the queue` : ''}`,
    );
    stop(drainSeconds).then(
      () => exit(0, 'Stopped'),
      (error) => exit(1, `Stopped, with an error: ${(error as Error)?.stack ?? error}`),
    );
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  const checkpoint = () => {
    if (stopSignal) throw new StopRequested();
  };

  const phases = new StartPhases('Darkroom');
  phases.loaded();
  try {
    if (!apiOnly) {
      // Started first, the worker loads its code while this process loads its own and opens the
      // database: the two starts overlap rather than add up.
      worker = new WorkerSupervisor(process.env, config.SHUTDOWN_GRACE);
      worker.fork();
    }
    const api = await phases.time('loading the API code', async () => loadApiCode());
    const { url } = (database = await phases.time('embedded PostgreSQL or DATABASE_URL', () => openDatabase(config)));
    checkpoint();
    await phases.time('migrations check', () => api.runMigrations(url, { queueOnPostgres: !config.REDIS_URL }));
    checkpoint();
    const workerStarted = worker ? phases.time('worker process', () => worker!.serve(url)) : Promise.resolve();
    const created = (app = await phases.time('API modules', () =>
      api.NestFactory.create<NestExpressApplication>(api.AppModule.forRoot(config, url), { logger: appLogger, abortOnError: false }),
    ));
    drain = created.get(api.ShutdownDrain);
    await phases.time('API set-up', async () => api.configureApp(created, appLogger.pino));
    await phases
      .time('API init and listen', () => created.listen(config.PORT))
      .catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EADDRINUSE') throw error;
        throw new ConfigError(`Port ${config.PORT} is in use (another Darkroom, or another program): stop it, or choose another with PORT`);
      });
    checkpoint();
    await workerStarted;
    checkpoint();
  } catch (error) {
    await stop().catch((stopError) => logger.error(`While stopping: ${(stopError as Error)?.stack ?? stopError}`));
    // A failure that the stop itself caused (a step cut short) is not news.
    if (stopSignal) exit(0, 'Stopped');
    throw error;
  }
  started = true;
  phases.total();
  logger.log(readyLine(config.PORT, apiOnly));
}

/** Every URL it names answers: the API's index, its docs and the admins' dashboard. */
function readyLine(port: number, apiOnly: boolean): string {
  const base = `http://localhost:${port}`;
  return `Darkroom is ready${apiOnly ? ' (API only)' : ''}: API ${base}/api · docs ${base}/api/docs · dashboard ${base}/admin/queues · Ctrl-C stops it`;
}

/**
 * The bulk of the API's code (Nest, the modules, TypeORM), loaded only once the worker has been
 * forked, so that the two processes load theirs at the same time rather than one after the other.
 */
function loadApiCode() {
  /* eslint-disable @typescript-eslint/no-require-imports -- a static import would load it all before the fork */
  const { NestFactory } = require('@nestjs/core') as typeof import('@nestjs/core');
  const { AppModule } = require('./app.module') as typeof import('./app.module');
  const { configureApp } = require('./app.setup') as typeof import('./app.setup');
  const { runMigrations } = require('./database/migrate') as typeof import('./database/migrate');
  const { ShutdownDrain } = require('./health/shutdown-drain') as typeof import('./health/shutdown-drain');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { NestFactory, AppModule, configureApp, runMigrations, ShutdownDrain };
}

function exit(code: number, message: string): never {
  if (code === 0) logger.log(message);
  else logger.error(message);
  process.exit(code);
}

main().catch((error) => {
  const explained = error instanceof ConfigError || error instanceof EmbeddedPostgresError;
  logger.error(explained ? error.message : ((error as Error)?.stack ?? String(error)));
  process.exit(1);
});
