import { Injectable, Logger } from '@nestjs/common';
import type { Job as QueuedJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import sharp, { type Sharp } from 'sharp';
import { withLogContext } from '../common/log-context';
import { AppConfig } from '../config/app-config';
import { jobSpecOf, ProcessStep } from '../pipelines/job-spec';
import { QueuedJobData } from '../queue/queue-names';
import { StorageObjectNotFoundError } from '../storage/storage.driver';
import { JobOutputRepository } from './job-output.repository';
import { Attempt, JobOutcome, JobRunner } from './job-runner';
import { OperationRegistry, operationRegistry } from './operation-registry';
import { type GreyLevels, openGreyLevels } from './operations/grey-levels';
import { OperationOutput } from './operations/operation';

/** What a step starts from: the previous output's bytes, and its pixels when its operation kept them. */
export interface StepInput {
  data: Buffer;
  pixels?: GreyLevels;
}

/**
 * A step's input, oriented by its EXIF tag; pixels handed on from the previous step need no
 * decoding. `timeoutSeconds` is libvips' own limit on the work, so that an attempt that ran out of
 * time does not go on computing for long.
 */
export function openStepInput(input: StepInput, limitInputPixels: number, timeoutSeconds?: number): Sharp {
  const image = input.pixels ? openGreyLevels(input.pixels) : sharp(input.data, { limitInputPixels, failOn: 'error' }).rotate();
  return timeoutSeconds === undefined ? image : image.timeout({ seconds: timeoutSeconds });
}

/** Runs a `process` job: each step's output feeds the next, and each is stored as a new image. */
@Injectable()
export class ProcessPipeline {
  private readonly logger = new Logger(ProcessPipeline.name);
  private readonly registry: OperationRegistry = operationRegistry;

  constructor(
    private readonly runner: JobRunner,
    private readonly outputs: JobOutputRepository,
    private readonly config: AppConfig,
  ) {}

  run(queued: QueuedJob<QueuedJobData>): Promise<void> {
    return this.runner.run(queued, (attempt) => this.runSteps(attempt));
  }

  /**
   * A step an earlier attempt completed is not redone: its stored output feeds the next step. The
   * attempt's signal is checked between steps, so a cancel or a timeout stops it there at the latest.
   */
  private async runSteps(attempt: Attempt): Promise<JobOutcome> {
    const { job } = attempt;
    const spec = jobSpecOf(job);
    if (spec.kind !== 'process') throw new UnrecoverableError(`Job ${job.id} is not a process job`);
    const source = job.imageId === null ? null : await this.outputs.sourceOf(job.imageId);
    if (!source?.s3Key) throw new UnrecoverableError('The job’s source image, or its stored file, was deleted');
    const done = await this.outputs.recorded(job.id);
    let input: StepInput = { data: await this.readSource(source.id, source.s3Key) };
    const outputImageIds: number[] = [];
    for (const [index, step] of spec.steps.entries()) {
      attempt.throwIfStopped();
      const earlier = done.get(index);
      const last = index === spec.steps.length - 1;
      const progress = Math.round(((index + 1) / spec.steps.length) * 100);
      const from = input;
      const output = earlier
        ? { id: earlier.id, data: last ? from.data : await this.runner.read(earlier.s3Key!) }
        : await withLogContext({ step: index, operation: step.name }, () => this.runAndStore(attempt, index, step, from, progress));
      outputImageIds.push(output.id);
      input = output;
    }
    return { outputImageIds };
  }

  /** A file gone from storage will not come back by retrying; storage out of reach might. */
  private async readSource(imageId: number, key: string): Promise<Buffer> {
    try {
      return await this.runner.read(key);
    } catch (error) {
      if (error instanceof StorageObjectNotFoundError) {
        throw new UnrecoverableError(`The file of source image ${imageId} is missing from storage; upload it again (PUT /api/images/${imageId}/file)`);
      }
      throw error;
    }
  }

  private async runAndStore(attempt: Attempt, index: number, step: ProcessStep, input: StepInput, progress: number) {
    const started = performance.now();
    const output = await this.runner.storeOutput(attempt, index, step.name, await this.runStep(attempt, index, step, input), progress);
    const durationMs = Math.round(performance.now() - started);
    this.logger.debug({ msg: `Step ${index + 1} (${step.name}) done in ${durationMs} ms`, event: 'step_ended', duration_ms: durationMs });
    return output;
  }

  private async runStep(attempt: Attempt, index: number, step: ProcessStep, input: StepInput): Promise<OperationOutput> {
    const operation = this.registry.get(step.name);
    if (!operation) throw new UnrecoverableError(`"${step.name}" is no longer an operation this worker knows`);
    const image = openStepInput(input, this.config.MAX_PIXELS, attempt.secondsLeft());
    try {
      return await operation.run(image, step.params, { pngCompression: this.config.PNG_COMPRESSION });
    } catch (error) {
      attempt.throwIfStopped();
      throw new UnrecoverableError(`Step ${index + 1} (${step.name}) could not process its input: ${(error as Error).message}`);
    }
  }
}
