import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { ConfigError, loadConfig } from './config/app-config';
import { openDatabase } from './database/database';
import { runMigrations } from './database/migrate';

const logger = new Logger('Darkroom');

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    await runMigrations(database.url);
    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, database.url));
    configureApp(app);
    await app.listen(config.PORT);
    logger.log(`Serving the API on http://localhost:${config.PORT}/api (docs: /api/docs)`);

    const shutDown = async (signal: string) => {
      logger.log(`${signal}: closing`);
      await app.close();
      await database.close();
      process.exit(0);
    };
    process.once('SIGINT', shutDown);
    process.once('SIGTERM', shutDown);
  } catch (error) {
    await database.close();
    throw error;
  }
}

bootstrap().catch((error) => {
  logger.error(error instanceof ConfigError ? error.message : ((error as Error)?.stack ?? String(error)));
  process.exit(1);
});
