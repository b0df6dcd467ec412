import { Processor } from '@nestjs/bullmq';
import { OnApplicationBootstrap } from '@nestjs/common';
import type { Job as QueuedJob } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { QueuedJobData } from '../job-runs/queue-names';
import { QUEUE_WORKER_OPTIONS } from './worker-options';
import { ProcessPipeline } from './process-pipeline';
import { QueueConsumer } from './queue-consumer';

/** Consumes the `process` queue. */
@Processor('process', QUEUE_WORKER_OPTIONS)
export class ProcessQueueProcessor extends QueueConsumer implements OnApplicationBootstrap {
  constructor(
    private readonly pipeline: ProcessPipeline,
    private readonly config: AppConfig,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.WORKER_CONCURRENCY;
  }

  process(job: QueuedJob<QueuedJobData>): Promise<void> {
    return this.pipeline.run(job);
  }
}
