import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { Job } from '../jobs/job.entity';
import { pipelineKind, PipelineKind } from '../pipelines/job-sequence';
import { QueuedJobData, queueJobId } from './queue-names';

/** The producer: puts a job row on its pipeline's queue, once. */
@Injectable()
export class JobQueue {
  private readonly queues: Record<PipelineKind, Queue>;

  constructor(
    @InjectQueue('process') process: Queue,
    @InjectQueue('query') query: Queue,
    @InjectQueue('search') search: Queue,
    private readonly config: AppConfig,
  ) {
    this.queues = { process, query, search };
  }

  /**
   * The BullMQ job id is derived from the row's id, so enqueueing the same job twice leaves one
   * entry. Retries back off exponentially (1 s, 2 s, 4 s…); finished entries leave the queue's
   * store after RESULT_TTL while the row and its outputs stay in PostgreSQL.
   */
  async enqueue(job: Job): Promise<void> {
    const data: QueuedJobData = { jobId: job.id };
    await this.queues[pipelineKind(job.jobType)].add(job.jobType.slice(1).join('+'), data, {
      jobId: queueJobId(job.id),
      attempts: job.maxAttempts,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: this.config.RESULT_TTL },
      removeOnFail: { age: this.config.RESULT_TTL },
    });
  }

  /**
   * Takes a deleted job off its queue. An entry a worker holds cannot be removed; that worker
   * finds the row gone and stops.
   */
  async remove(job: Job): Promise<void> {
    await this.queues[pipelineKind(job.jobType)].remove(queueJobId(job.id)).catch(() => undefined);
  }
}
