import { Processor } from '@nestjs/bullmq';
import type { Job as QueuedJob } from 'bullmq';
import { QueuedJobData } from '../job-runs/queue-names';
import { QUEUE_WORKER_OPTIONS } from './worker-options';
import { AggregatePipeline } from './aggregate-pipeline';
import { QueueConsumer } from './queue-consumer';

/** Consumes the `query` queue: medians and means of histograms. */
@Processor('query', QUEUE_WORKER_OPTIONS)
export class QueryQueueProcessor extends QueueConsumer {
  constructor(private readonly pipeline: AggregatePipeline) {
    super();
  }

  process(job: QueuedJob<QueuedJobData>): Promise<void> {
    return this.pipeline.run(job);
  }
}

/** Consumes the `search` queue: nearest users by histogram. */
@Processor('search', QUEUE_WORKER_OPTIONS)
export class SearchQueueProcessor extends QueueConsumer {
  constructor(private readonly pipeline: AggregatePipeline) {
    super();
  }

  process(job: QueuedJob<QueuedJobData>): Promise<void> {
    return this.pipeline.run(job);
  }
}
