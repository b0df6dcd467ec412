import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Job as QueuedJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import sharp, { type Sharp } from 'sharp';
import { Repository } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { Image } from '../images/image.entity';
import { Job } from '../jobs/job.entity';
import { QueuedJobData } from '../queue/queue-names';
import { operationCatalog } from '../pipelines/operation-catalog';
import { JobOutcome, JobRunner } from './job-runner';
import { OperationRegistry, operationRegistry } from './operation-registry';
import { type GreyLevels, openGreyLevels } from './operations/grey-levels';
import { OperationOutput } from './operations/operation';

/** What a step starts from: the previous output's bytes, and its pixels when its operation kept them. */
export interface StepInput {
  data: Buffer;
  pixels?: GreyLevels;
}

/** A step's input, oriented by its EXIF tag; pixels handed on from the previous step need no decoding. */
export function openStepInput(input: StepInput, limitInputPixels: number): Sharp {
  if (input.pixels) return openGreyLevels(input.pixels);
  return sharp(input.data, { limitInputPixels, failOn: 'error' }).rotate();
}

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
    let input: StepInput = { data: await this.runner.read(original.s3Key) };
    const outputImageIds: number[] = [];
    for (const [index, step] of steps.entries()) {
      const earlier = done.get(index);
      const progress = Math.round(((index + 1) / steps.length) * 100);
      const output = earlier
        ? { id: earlier.id, data: index < steps.length - 1 ? await this.runner.read(earlier.s3Key!) : input.data }
        : await this.runner.storeOutput(job, index, step, await this.runStep(job, index, step, input), progress);
      outputImageIds.push(output.id);
      input = output;
    }
    return { outputImageIds };
  }

  private async runStep(job: Job, index: number, step: string, input: StepInput): Promise<OperationOutput> {
    const operation = this.registry.get(step);
    if (!operation) throw new UnrecoverableError(`"${step}" is no longer an operation this worker knows`);
    // Parameters were validated when the job was created; validating again applies their defaults.
    const { params } = operationCatalog.validateParams(step, job.params[step]);
    try {
      return await operation.run(openStepInput(input, this.config.MAX_PIXELS), params, { pngCompression: this.config.PNG_COMPRESSION });
    } catch (error) {
      throw new UnrecoverableError(`Step ${index + 1} (${step}) could not process its input: ${(error as Error).message}`);
    }
  }
}
