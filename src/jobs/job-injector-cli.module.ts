import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { dataSourceOptions } from '../database/data-source-options';
import { JobQueueModule } from '../job-runs/job-queue';
import { QueueModule } from '../queue/queue.module';
import { JobInjectorModule } from './job-injector.module';

/** What `npm run inject` boots: the database, the queue's producers and the injector; no HTTP, no worker, no reconciler. */
@Module({})
export class JobInjectorCliModule {
  static forRoot(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: JobInjectorCliModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl)),
        QueueModule.forRoot(config, databaseUrl),
        JobQueueModule.register(),
        JobInjectorModule,
      ],
    };
  }
}
