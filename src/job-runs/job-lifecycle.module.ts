import { Module } from '@nestjs/common';
import { IdempotencyKeysModule } from '../idempotency/idempotency.module';
import { MetricsModule } from '../metrics/metrics.module';
import { JobDispatchModule } from './job-dispatcher';
import { JobReconciler } from './job-reconciler';
import { JobRepository } from './job.repository';

/**
 * The job state machine without HTTP: the transitions (JobRepository) and the reconciler that
 * keeps the queue in line with them. API and worker processes both import it; whichever process
 * takes the reconciler's lock does the reconciling.
 */
@Module({
  imports: [MetricsModule, JobDispatchModule, IdempotencyKeysModule],
  providers: [JobRepository, JobReconciler],
  exports: [JobRepository, JobDispatchModule],
})
export class JobLifecycleModule {}
