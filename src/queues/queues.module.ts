import { Module } from '@nestjs/common';
import { JobDispatchModule } from '../job-runs/job-dispatcher';
import { QueueStatsRepository } from './queue-stats.repository';
import { QueuesController } from './queues.controller';
import { QueuesService } from './queues.service';

/** The queues as an admin resource (GET /api/queues.json, pause and resume), and their figures for the dashboard and /metrics. */
@Module({
  imports: [JobDispatchModule],
  controllers: [QueuesController],
  providers: [QueuesService, QueueStatsRepository],
  exports: [QueuesService, QueueStatsRepository],
})
export class QueuesModule {}
