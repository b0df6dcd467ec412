import { Module } from '@nestjs/common';
import { QueueStateRepository } from '../job-runs/queue-state.repository';
import { QueueStatsRepository } from './queue-stats.repository';
import { QueuesController } from './queues.controller';
import { QueuesService } from './queues.service';

/** The queues as an admin resource (GET /api/queues.json, pause and resume), and their figures for the dashboard and /metrics. */
@Module({
  controllers: [QueuesController],
  providers: [QueuesService, QueueStatsRepository, QueueStateRepository],
  exports: [QueuesService, QueueStatsRepository],
})
export class QueuesModule {}
