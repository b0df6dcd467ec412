import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job as QueuedJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { Histogram } from '../histograms/histogram.entity';
import { ImageType } from '../image-types/image-type.entity';
import { formatOf } from '../images/image-formats';
import { Image, IMAGE_STATUS } from '../images/image.entity';
import { Job, JOB_STATUS, JobResult } from '../jobs/job.entity';
import { QueuedJobData } from '../queue/queue-names';
import { newStorageKey } from '../storage/storage-key';
import { StorageDriver } from '../storage/storage.driver';
import type { GreyLevels } from './operations/grey-levels';
import { OperationOutput } from './operations/operation';

/** The job row is gone: it was deleted while queued or running, so there is nothing to finish. */
export class JobGone extends Error {}

/** What a job's work produced: its output images in step order, and for aggregates, a result. */
export interface JobOutcome {
  outputImageIds: number[];
  result?: JobResult;
}

/**
 * The life of a queued job, whatever its pipeline: RQ's `ttl` (expire unrun), `timeout` (per
 * attempt), retries until the last attempt, then `failed` with the reason; and its outputs.
 *
 * Delivery is at least once (a crashed or stalled worker's job is handed to another), so every
 * output is idempotent: it is recorded under the unique (job_id, step_index) pair, and a worker
 * that loses that race discards its own file. However often a job runs, it ends with one output
 * per step.
 */
@Injectable()
export class JobRunner {
  private readonly logger = new Logger(JobRunner.name);
  private readonly imageTypeIds = new Map<string, number | null>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly storage: StorageDriver,
  ) {}

  async run(queued: QueuedJob<QueuedJobData>, work: (job: Job) => Promise<JobOutcome>): Promise<void> {
    const jobs = this.dataSource.getRepository(Job);
    const job = await jobs.findOneBy({ id: queued.data.jobId });
    if (!job || job.status === JOB_STATUS.completed || job.status === JOB_STATUS.failed) return;
    if (job.ttl !== null && job.startedAt === null && Date.now() - job.createdAt.getTime() > job.ttl * 1000) {
      await this.finish(job.id, JOB_STATUS.failed, { error: `Expired: still queued after its ttl of ${job.ttl} s` });
      return;
    }
    await jobs
      .createQueryBuilder()
      .update()
      .set({ status: JOB_STATUS.running, startedAt: () => 'coalesce(started_at, now())', attempts: () => 'attempts + 1' })
      .where('id = :id', { id: job.id })
      .execute();

    try {
      const outcome = await withTimeout(work(job), job.timeout * 1000, job.timeout);
      await this.finish(job.id, JOB_STATUS.completed, { ...outcome, progress: 100, error: null });
    } catch (error) {
      if (error instanceof JobGone) return;
      const message = describeFailure(error);
      const final = error instanceof UnrecoverableError || queued.attemptsMade + 1 >= (queued.opts.attempts ?? 1);
      if (final) {
        await this.finish(job.id, JOB_STATUS.failed, { error: message });
        throw new UnrecoverableError(message);
      }
      await jobs.update(job.id, { status: JOB_STATUS.queued, error: `Attempt ${queued.attemptsMade + 1} failed (${message}); retrying` });
      throw error;
    }
  }

  /** The outputs a previous delivery of this job already recorded, by step. */
  async recordedOutputs(jobId: number): Promise<Map<number | null, Image>> {
    return new Map((await this.dataSource.getRepository(Image).findBy({ jobId })).map((image) => [image.stepIndex, image]));
  }

  /**
   * Stores step `index`'s output as a new image typed `typeName`, with its histogram if it has
   * one, and the job's progress, in one transaction. If another delivery recorded that step
   * first, its output wins and is returned instead.
   */
  async storeOutput(
    job: Job,
    index: number,
    typeName: string,
    output: OperationOutput,
    progress: number,
  ): Promise<{ id: number; data: Buffer; pixels?: GreyLevels }> {
    const key = newStorageKey('outputs', formatOf(output.format).extension);
    await this.storage.put(key, output.data, formatOf(output.format).mime);
    const id = await this.recordOutput(job, index, typeName, key, output, progress);
    if (id === null) {
      await this.storage.delete(key);
      const winner = await this.dataSource.getRepository(Image).findOneByOrFail({ jobId: job.id, stepIndex: index });
      return { id: winner.id, data: await this.read(winner.s3Key!) };
    }
    return { id, data: output.data, pixels: output.pixels };
  }

  async read(key: string): Promise<Buffer> {
    return buffer(await this.storage.get(key));
  }

  /**
   * Records a step's output, its histogram and the job's progress in one transaction. Returns
   * the new image's id, or null when this step's output was already recorded.
   */
  private async recordOutput(
    job: Job,
    index: number,
    step: string,
    key: string,
    output: OperationOutput,
    progress: number,
  ): Promise<number | null> {
    const imageTypeId = await this.imageTypeId(step);
    try {
      return await this.dataSource.transaction(async (manager) => {
        const inserted = await manager
          .createQueryBuilder()
          .insert()
          .into(Image)
          .values({
            status: IMAGE_STATUS.processed,
            s3Key: key,
            imageTypeId,
            userId: job.userId,
            originalId: job.imageId,
            jobId: job.id,
            stepIndex: index,
            width: output.width,
            height: output.height,
            format: output.format,
            bytes: output.data.length,
            sha256: createHash('sha256').update(output.data).digest('hex'),
          })
          .orIgnore()
          .returning('id')
          .execute();
        const id = (inserted.raw as { id: number }[])[0]?.id;
        if (id === undefined) return null;
        if (output.histogram) {
          await manager.insert(Histogram, { imageId: id, jobId: job.id, bins: output.histogram });
        }
        await manager.update(Job, job.id, { progress });
        return id;
      });
    } catch (error) {
      if ((error as { driverError?: { code?: string } }).driverError?.code === '23503') {
        await this.storage.delete(key);
        throw new JobGone();
      }
      throw error;
    }
  }

  /** Output images are typed by their step; the catalog sync made a type for every operation. */
  private async imageTypeId(step: string): Promise<number | null> {
    if (!this.imageTypeIds.has(step)) {
      const imageType = await this.dataSource.getRepository(ImageType).findOneBy({ typeName: step });
      this.imageTypeIds.set(step, imageType?.id ?? null);
    }
    return this.imageTypeIds.get(step)!;
  }

  private async finish(id: number, status: string, changes: Partial<Job>): Promise<void> {
    await this.dataSource.getRepository(Job).update(id, { ...changes, status, finishedAt: new Date() });
    this.logger.log(`Job ${id} ${status}${changes.error ? `: ${changes.error}` : ''}`);
  }

}

async function buffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** RQ's `timeout`: an attempt that runs longer fails (and is retried like any other failure). */
function withTimeout<T>(work: Promise<T>, milliseconds: number, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${seconds} s`)), milliseconds);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function describeFailure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
