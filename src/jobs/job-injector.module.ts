import { Module } from '@nestjs/common';
import { ImageTypesModule } from '../image-types/image-types.module';
import { MetricsModule } from '../metrics/metrics.module';
import { JobDispatchModule } from '../job-runs/job-dispatcher';
import { JobInjectionRepository } from './job-injection.repository';
import { JobInjectorService } from './job-injector.service';

/**
 * The injector without HTTP, for both of its callers: the API's POST /api/jobs/inject.json and
 * `npm run inject`. It needs the database and the job queue (TypeOrmModule and JobQueueModule, global).
 */
@Module({
  imports: [ImageTypesModule, MetricsModule, JobDispatchModule],
  providers: [JobInjectorService, JobInjectionRepository],
  exports: [JobInjectorService],
})
export class JobInjectorModule {}
