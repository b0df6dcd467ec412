import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from './auth/auth.module';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { ShutdownWatchModule } from './shutdown-watch';
import { dataSourceOptions } from './database/data-source-options';
import { ImageTypesModule } from './image-types/image-types.module';
import { ImagesModule } from './images/images.module';
import { JobTypesModule } from './job-types/job-types.module';
import { JobsModule } from './jobs/jobs.module';
import { JobEventsModule } from './events/job-events.module';
import { DashboardModule } from './dashboard/dashboard.module';
import { DerivativesModule } from './derivatives/derivatives.module';
import { SignedUrlsModule } from './signed-urls/signed-urls.module';
import { HealthModule } from './health/health.module';
import { IdempotencyModule } from './idempotency/idempotency.module';
import { MetricsApiModule } from './metrics/metrics-api.module';
import { PresetsModule } from './presets/presets.module';
import { UsersModule } from './users/users.module';
import { JobQueueModule } from './job-runs/job-queue';
import { QueueModule } from './queue/queue.module';
import { QueuesModule } from './queues/queues.module';
import { RateLimitsModule } from './rate-limits/rate-limits.module';
import { StorageModule } from './storage/storage.module';
import { SyncModule } from './sync/sync.module';
import { UploadsModule } from './uploads/uploads.module';

@Module({})
export class AppModule {
  /** `databaseUrl` is resolved before the app is built: it may be an embedded server started for it. */
  static forRoot(config: AppConfig, databaseUrl: string): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ShutdownWatchModule,
        TypeOrmModule.forRoot(dataSourceOptions(databaseUrl, config.DATABASE_POOL_SIZE)),
        StorageModule,
        QueueModule.forRoot(config, databaseUrl),
        JobQueueModule.register(),
        AuthModule,
        // After AuthModule: its global guard must run first, so per-user limits see the principal.
        RateLimitsModule.forRoot(),
        IdempotencyModule,
        UsersModule,
        ImageTypesModule,
        ImagesModule,
        UploadsModule,
        JobTypesModule,
        JobEventsModule,
        JobsModule,
        PresetsModule,
        DerivativesModule,
        SignedUrlsModule,
        SyncModule,
        QueuesModule,
        DashboardModule,
        HealthModule,
        MetricsApiModule,
      ],
    };
  }
}
