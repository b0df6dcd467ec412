import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { DynamicModule, Injectable, Logger, Module } from '@nestjs/common';
import { JobState, Queue } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { pipelineKind, PipelineKind } from '../pipelines/job-sequence';
import { QUEUE_NAMES, QueuedJobData, queueEntryId } from './queue-names';

/** On the PostgreSQL backend, the smallest batch worth a bulk add's temporary tables (see enqueueMany). */
const BULK_ADD_FROM = 16;

/** The fields of a job row the queue needs. */
export interface Deliverable {
  id: number;
  deliveryId: string;
  jobType: string[];
}

/** A queue entry's state as BullMQ reports it; `unknown` when the queue does not hold it. */
export type EntryState = JobState | 'unknown';

/** What BullMQ holds of one queue, entry by state. */
export interface QueueEntryCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

/** The producer: the only code that knows BullMQ. It puts a job's current delivery on its pipeline's queue. */
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
    // The queue's connection failing (BullMQ retries it); unheard, BullMQ prints the whole error object.
    const logger = new Logger('Queue');
    for (const queue of Object.values(this.queues)) queue.on('error', (error) => logger.warn(`The ${queue.name} queue: ${error.message}`));
  }

  /**
   * Idempotent: adding a delivery the queue already holds leaves one entry. Retries are the job
   * core's (each a new delivery), so an entry is tried once; finished entries leave the queue's
   * store after RESULT_TTL while the row and its outputs stay in PostgreSQL.
   */
  async enqueue(job: Deliverable, delayMs = 0): Promise<void> {
    const entry = this.entryOf(job, delayMs);
    await this.queueOf(job).add(entry.name, entry.data, entry.opts);
  }

  /**
   * As `enqueue`, for many deliveries at once, each queue's entries in the order given (the
   * dispatcher's order). On Redis a bulk add is one pipelined round trip a queue. On the PostgreSQL
   * backend it builds two temporary tables, about 5 ms of the server's CPU whatever the batch's
   * size, where a single add is one function call of under 1 ms (bench:statements): there, fewer
   * than BULK_ADD_FROM entries are added one by one, one after the other, the queues side by side.
   */
  async enqueueMany(jobs: Deliverable[]): Promise<void> {
    const byQueue = new Map<Queue, ReturnType<JobQueue['entryOf']>[]>();
    for (const job of jobs) {
      const queue = this.queueOf(job);
      const entries = byQueue.get(queue) ?? [];
      entries.push(this.entryOf(job, 0));
      byQueue.set(queue, entries);
    }
    const bulkFrom = this.config.REDIS_URL ? 1 : BULK_ADD_FROM;
    await Promise.all(
      [...byQueue].flatMap(([queue, entries]): Promise<unknown>[] =>
        entries.length >= bulkFrom ? [queue.addBulk(entries)] : [addInOrder(queue, entries)],
      ),
    );
  }

  private entryOf(job: Deliverable, delayMs: number) {
    const data: QueuedJobData = { jobId: job.id, deliveryId: job.deliveryId };
    return {
      name: job.jobType.slice(1).join('+'),
      data,
      opts: {
        jobId: queueEntryId(job.id, job.deliveryId),
        delay: delayMs,
        attempts: 1,
        removeOnComplete: { age: this.config.RESULT_TTL },
        removeOnFail: { age: this.config.RESULT_TTL },
      },
    };
  }

  /** Each queue's entries by state, as its backend (Redis or PostgreSQL) counts them. */
  async counts(kind: PipelineKind): Promise<QueueEntryCounts> {
    const counts = await this.queues[kind].getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
    return {
      waiting: counts.waiting ?? 0,
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
    };
  }

  async state(job: Deliverable): Promise<EntryState> {
    return (await this.queueOf(job).getJobState(queueEntryId(job.id, job.deliveryId))) as EntryState;
  }

  /** Takes a waiting delivery off its queue. One a worker holds cannot be removed: the fence stops that worker. */
  async remove(job: Deliverable): Promise<void> {
    await this.queueOf(job)
      .remove(queueEntryId(job.id, job.deliveryId))
      .catch(() => undefined);
  }

  /** Every queue's entries by state. */
  async countsByQueue(): Promise<Record<PipelineKind, QueueEntryCounts>> {
    const kinds = Object.keys(this.queues) as PipelineKind[];
    const counts = await Promise.all(kinds.map((kind) => this.counts(kind)));
    return Object.fromEntries(kinds.map((kind, index) => [kind, counts[index]])) as Record<PipelineKind, QueueEntryCounts>;
  }

  private queueOf(job: Deliverable): Queue {
    return this.queues[pipelineKind(job.jobType)];
  }
}

async function addInOrder(queue: Queue, entries: { name: string; data: QueuedJobData; opts: object }[]): Promise<void> {
  for (const entry of entries) await queue.add(entry.name, entry.data, entry.opts);
}

/**
 * Registers the pipelines' queues and their producer, global: the lifecycle, the jobs routes, the
 * dashboard, the health check and the worker all use them. A dynamic module, made after
 * QueueModule.forRoot has chosen the backend's queue class: registerQueue reads that class when it
 * is called.
 */
@Module({})
export class JobQueueModule {
  static register(): DynamicModule {
    return {
      module: JobQueueModule,
      global: true,
      imports: [BullModule.registerQueue(...QUEUE_NAMES.map((name) => ({ name })))],
      providers: [JobQueue],
      exports: [BullModule, JobQueue],
    };
  }
}
