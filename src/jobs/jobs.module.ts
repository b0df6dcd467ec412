import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ImagesModule } from '../images/images.module';
import { Job } from '../job-runs/job.entity';
import { JobInjectorController } from './job-injector.controller';
import { JobInjectorModule } from './job-injector.module';
import { JobLifecycleModule } from '../job-runs/job-lifecycle.module';
import { JobsController } from './jobs.controller';
import { JobsService } from './jobs.service';
import { MetricsModule } from '../metrics/metrics.module';
import { QueueDepthMetrics } from './queue-depth-metrics';
import { QueuesModule } from '../queues/queues.module';
import { QueueStandingRepository } from './queue-standing.repository';
import { QueueWaitService } from './queue-wait.service';
import { WebhooksModule } from '../webhooks/webhooks.module';
import { WorkReuseModule } from '../job-runs/work-reuse.module';

/** The jobs routes, and the queue depth for GET /metrics: every API reads it, whatever the deployment. */
@Module({
  imports: [
    TypeOrmModule.forFeature([Job]),
    ImagesModule,
    JobLifecycleModule,
    JobInjectorModule,
    WebhooksModule,
    WorkReuseModule,
    MetricsModule,
    QueuesModule,
  ],
  controllers: [JobsController, JobInjectorController],
  providers: [JobsService, QueueDepthMetrics, QueueStandingRepository, QueueWaitService],
  exports: [JobsService],
})
export class JobsModule {}
