import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Job as QueuedJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import sharp from 'sharp';
import { Repository } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Image } from '../images/image.entity';
import { Job } from '../jobs/job.entity';
import { QueuedJobData } from '../queue/queue-names';
import { JobOutcome, JobRunner } from './job-runner';
import { OperationRegistry, operationRegistry } from './operation-registry';
import { OperationOutput } from './operations/operation';

/** Runs a `process` job: each step's output feeds the next, and each is stored as a new image. */
@Injectable()
export class ProcessPipeline {
  private readonly registry: OperationRegistry = operationRegistry;

  constructor(
    private readonly runner: JobRunner,
    @InjectRepository(Image) private readonly images: Repository<Image>,
    private readonly config: AppConfig,
  ) {}

  run(queued: QueuedJob<QueuedJobData>): Promise<void> {
    return this.runner.run(queued, (job) => this.runSteps(job));
  }

  /** A step a previous delivery completed is not redone: its stored output feeds the next step. */
  private async runSteps(job: Job): Promise<JobOutcome> {
    const steps = job.jobType.slice(1);
    const original = job.imageId === null ? null : await this.images.findOneBy({ id: job.imageId });
    if (!original?.s3Key) throw new UnrecoverableError('The job’s image, or its stored file, no longer exists');
    const done = await this.runner.recordedOutputs(job.id);
    let input = await this.runner.read(original.s3Key);
    const outputImageIds: number[] = [];
    for (const [index, step] of steps.entries()) {
      const earlier = done.get(index);
      const progress = Math.round(((index + 1) / steps.length) * 100);
      const output = earlier
        ? { id: earlier.id, data: index < steps.length - 1 ? await this.runner.read(earlier.s3Key!) : input }
        : await this.runner.storeOutput(job, index, step, await this.runStep(job, index, step, input), progress);
      outputImageIds.push(output.id);
      input = output.data;
    }
    return { outputImageIds };
  }

  private async runStep(job: Job, index: number, step: string, input: Buffer): Promise<OperationOutput> {
    const operation = this.registry.get(step);
    if (!operation) throw new UnrecoverableError(`"${step}" is no longer an operation this worker knows`);
    // Parameters were validated when the job was created; validating again applies their defaults.
    const { params } = this.registry.validateParams(step, job.params[step]);
    try {
      const decoder = sharp(input, { limitInputPixels: this.config.MAX_PIXELS, failOn: 'error' }).rotate();
      return await operation.run(decoder, params, { pngCompression: this.config.PNG_COMPRESSION });
    } catch (error) {
      throw new UnrecoverableError(`Step ${index + 1} (${step}) could not process its input: ${(error as Error).message}`);
    }
  }
}
