import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { ShutdownWatchModule } from '../shutdown-watch';
import { dataSourceOptions } from '../database/data-source-options';
import { JobQueueModule } from '../job-runs/job-queue';
import { QueueModule } from '../queue/queue.module';
import { StorageModule } from '../storage/storage.module';
import { WorkerModule } from './worker.module';

/** The worker process: no HTTP, just the queue consumers and what they need. */
@Module({})
export class WorkerAppModule {
  static forRoot(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: WorkerAppModule,
      imports: [
        ConfigModule.forRoot(config),
        ShutdownWatchModule,
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl, config.DATABASE_POOL_SIZE)),
        StorageModule,
        QueueModule.forRoot(config, databaseUrl),
        JobQueueModule.register(),
        WorkerModule.forRoot(config),
      ],
    };
  }
}
