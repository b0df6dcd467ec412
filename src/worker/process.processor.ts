import { Processor, WorkerHost } from '@nestjs/bullmq';
import { OnApplicationBootstrap } from '@nestjs/common';
import type { Job as QueuedJob } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { QueuedJobData } from '../queue/queue-names';
import { ProcessPipeline } from './process-pipeline';

/**
 * Consumes the `process` queue. A worker holding a job renews its lock every 7.5 s; one that dies
 * stops renewing, and within about 15 s its job is stalled and handed to another worker.
 */
@Processor('process', { lockDuration: 15_000, stalledInterval: 15_000, maxStalledCount: 3 })
export class ProcessQueueProcessor extends WorkerHost implements OnApplicationBootstrap {
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
