import { Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job as QueuedJob } from 'bullmq';
import { QueuedJobData } from '../queue/queue-names';
import { AggregatePipeline } from './aggregate-pipeline';

/** Consumes the `query` queue: medians and means of histograms. */
@Processor('query', { lockDuration: 15_000, stalledInterval: 15_000, maxStalledCount: 3 })
export class QueryQueueProcessor extends WorkerHost {
  constructor(private readonly pipeline: AggregatePipeline) {
    super();
  }

  process(job: QueuedJob<QueuedJobData>): Promise<void> {
    return this.pipeline.run(job);
  }
}

/** Consumes the `search` queue: nearest users by histogram. */
@Processor('search', { lockDuration: 15_000, stalledInterval: 15_000, maxStalledCount: 3 })
export class SearchQueueProcessor extends WorkerHost {
  constructor(private readonly pipeline: AggregatePipeline) {
    super();
  }

  process(job: QueuedJob<QueuedJobData>): Promise<void> {
    return this.pipeline.run(job);
  }
}
