import { Injectable, Logger } from '@nestjs/common';
import type { Job as QueuedJob } from 'bullmq';
import { createHash } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import sharp, { type Sharp } from 'sharp';
import { withLogContext } from '../common/log-context';
import { AppConfig } from '../config/app-config';
import { JobMetrics } from '../metrics/job-metrics';
import { jobSpecOf, ProcessStep, startsFromSource } from '../pipelines/job-spec';
import { QueuedJobData } from '../job-runs/queue-names';
import { StorageDriver, StorageObjectNotFoundError } from '../storage/storage.driver';
import { IMAGE_STATUS } from '../pipelines/image-states';
import { decodeFailure } from './image-decode';
import { ImageVerificationRepository, UnverifiedImage } from './image-verification.repository';
import { JobOutputRepository } from '../job-runs/job-output.repository';
import { Attempt, JobOutcome, JobRunner, StoredOutput } from '../job-runs/job-runner';
import { OperationRegistry, operationRegistry } from './operation-registry';
import type { GreyLevels, OperationOutput } from '../pipelines/operation-output';
import { openGreyLevels } from './operations/grey-levels';
import type { Operation, OperationContext } from './operations/operation';
import { stepWorkKey, stepWorkKeyText, type WorkKeyText } from '../work-reuse/work-key';

/** An image decoded whole and oriented: 8-bit samples, `channels` a pixel, row by row. */
export interface DecodedPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * What a step starts from: the previous output's pixels when its operation kept them, the job's
 * source decoded once for all of its branches, else the encoded bytes.
 */
export type StepInput =
  | { pixels: GreyLevels; data?: Buffer; decoded?: undefined }
  | { pixels?: undefined; decoded: DecodedPixels; data?: undefined }
  | { pixels?: undefined; decoded?: undefined; data: Buffer };

/** A step's input as the pipeline holds it: the file's hash at once, its bytes only when needed. */
interface StepSource {
  sha256: string;
  load(): Promise<Buffer>;
  pixels?: GreyLevels;
  /** Throws what `load` would for a missing file, without reading it: a reused step reads nothing. */
  assertStored?(): Promise<void>;
  /** Set when these are the job's source image's bytes: a step that cannot decode them tells whether the file is corrupt. */
  original?: UnverifiedImage;
  /**
   * The source's pixels, decoded on first use and kept, when several branches start from it; null
   * when each branch had better open the bytes (DECODED_AT_REDUCED_SCALE).
   */
  decoded?(): Promise<DecodedPixels | null>;
}

/**
 * A step's input, oriented by its EXIF tag; pixels handed on from the previous step need no
 * decoding. `timeoutSeconds` is libvips' own limit on the work, so that an attempt that ran out of
 * time does not go on computing for long.
 */
export function openStepInput(input: StepInput, limitInputPixels: number, timeoutSeconds?: number): Sharp {
  const image = input.pixels
    ? openGreyLevels(input.pixels)
    : input.decoded
      ? sharp(input.decoded.data, { raw: { width: input.decoded.width, height: input.decoded.height, channels: input.decoded.channels } })
      : sharp(input.data, { limitInputPixels, failOn: 'error' }).rotate();
  return timeoutSeconds === undefined ? image : image.timeout({ seconds: timeoutSeconds });
}

/**
 * One decode of an image for several pipelines: with libvips' cache off (worker.main.ts), each
 * pipeline opened on the encoded bytes would decode them again. The pixels are oriented, as
 * openStepInput orients bytes, and 8-bit, as every operation's output is.
 */
export async function decodePixels(data: Buffer, limitInputPixels: number, timeoutSeconds?: number): Promise<DecodedPixels> {
  const pixels = await openStepInput({ data }, limitInputPixels, timeoutSeconds)
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const { width, height, channels } = pixels.info;
  return { data: pixels.data, width, height, channels };
}

/**
 * Formats that libvips decodes at a fraction of their size when the pipeline shrinks (JPEG's DCT
 * scaling, libwebp's scaled decode): a branch that makes a smaller image opens the bytes rather
 * than the full-size pixels. Measured on a 12-megapixel photo (4 runs each on the shared 2-core
 * machine), the first steps of thumb_256 and medium_1024 together (thumbnail, resize to 1024, each
 * encoded) took 74-108 ms opening the JPEG bytes twice and 203-250 ms from one full decode;
 * 218-280 ms against 767-1,331 ms as WebP; but 267-350 against 259-393 ms as PNG, and 2.4-2.7 s
 * against 1.3-2.2 s as AVIF, whose decode is never reduced.
 */
const DECODED_AT_REDUCED_SCALE = new Set(['jpeg', 'webp']);

/** Runs a `process` job: each step's output feeds the next, and each is stored as a new image. */
@Injectable()
export class ProcessPipeline {
  private readonly logger = new Logger(ProcessPipeline.name);
  private readonly registry: OperationRegistry = operationRegistry;
  /** The first step's work key text by queue entry name (firstStepText), computed once per name. */
  private readonly firstSteps = new Map<string, WorkKeyText | undefined>();

  constructor(
    private readonly runner: JobRunner,
    private readonly outputs: JobOutputRepository,
    private readonly storage: StorageDriver,
    private readonly config: AppConfig,
    private readonly metrics: JobMetrics,
    private readonly verification: ImageVerificationRepository,
  ) {}

  run(queued: QueuedJob<QueuedJobData>): Promise<void> {
    return this.runner.run(queued, (attempt) => this.runSteps(attempt), this.firstStepText(queued.name));
  }

  /**
   * The work key text of the first step named by a queue entry (`grayscale+histogram`), with the
   * params it has when the job gives none, so that the claim can look that work up. A job with
   * params of its own gets a different key, which the step sees and looks up on its own.
   */
  private firstStepText(entryName: string): WorkKeyText | undefined {
    if (!this.firstSteps.has(entryName)) {
      if (this.firstSteps.size >= 1000) this.firstSteps.clear();
      this.firstSteps.set(entryName, this.parsedFirstStepText(entryName));
    }
    return this.firstSteps.get(entryName);
  }

  private parsedFirstStepText(entryName: string): WorkKeyText | undefined {
    try {
      const spec = jobSpecOf({ jobType: ['process', ...entryName.split('+')], params: {}, environment: null });
      return spec.kind === 'process' && spec.steps.length > 0
        ? stepWorkKeyText(spec.steps[0], { pngCompression: this.config.PNG_COMPRESSION })
        : undefined;
    } catch {
      // A name this worker cannot parse: no lookup with the claim; the job's own parse says what is wrong.
      return undefined;
    }
  }

  /**
   * A step an earlier attempt completed is not redone: its stored output feeds the next step. Nor
   * is a step whose exact work (src/work-reuse/work-key.ts) was done before, unless the job says
   * `force`: its output points at that work's file. Bytes are read only when a step must compute,
   * so a pipeline reused end to end reads no file. The attempt's signal is checked between steps,
   * so a cancel or a timeout stops it there at the latest. A job of branches starts each branch
   * from the source, read once, and decoded once for all of them unless its format decodes at a
   * reduced scale (DECODED_AT_REDUCED_SCALE).
   */
  private async runSteps(attempt: Attempt): Promise<JobOutcome> {
    const { job } = attempt;
    const spec = jobSpecOf(job);
    if (spec.kind !== 'process') throw new UnrecoverableError(`Job ${job.id} is not a process job`);
    const { source, recorded: done } =
      attempt.inputs ??
      (job.imageId === null ? { source: null, recorded: new Map() } : await this.outputs.sourceAndRecorded(job.id, job.imageId));
    if (!source?.s3Key) throw new UnrecoverableError('The job’s source image, or its stored file, was deleted');
    if (source.status === IMAGE_STATUS.corrupt) throw corrupt(source.id, source.corruptReason ?? 'it could not be decoded');
    const sourceKey = source.s3Key;
    const original: UnverifiedImage = { id: source.id, s3Key: sourceKey };
    const branched = spec.branchStarts.length > 1;
    const read = () => this.readSource(source.id, sourceKey);
    const load = branched ? once(read) : read;
    const sourceInput: StepSource = {
      original,
      sha256: source.sha256 ?? (await this.hashOf(source.id, sourceKey)),
      load,
      assertStored: async () => {
        if (!(await this.storage.stat(sourceKey))) throw missingSource(source.id);
      },
      decoded: branched ? once(() => this.decodeSource(attempt, original, load)) : undefined,
    };
    let input = sourceInput;
    const outputImageIds: number[] = [];
    for (const [index, step] of spec.steps.entries()) {
      attempt.throwIfStopped();
      if (startsFromSource(spec, index)) input = sourceInput;
      const progress = Math.round(((index + 1) / spec.steps.length) * 100);
      const earlier = done.get(index);
      const output: StoredOutput = earlier
        ? { id: earlier.id, s3Key: earlier.s3Key!, sha256: earlier.sha256! }
        : await withLogContext({ step: index, operation: step.name }, () => this.runOrReuse(attempt, index, step, input, progress));
      if (output.id !== null) outputImageIds.push(output.id);
      input = this.sourceOf(output);
    }
    // A completed job decoded its source whole (or reused work on the very same bytes): the first one says so.
    const verifiedSourceId = source.verifiedAt === null && source.status === IMAGE_STATUS.originalStored ? source.id : undefined;
    return { outputImageIds, verifiedSourceId };
  }

  /**
   * The source's pixels for several branches, or null for a format each branch decodes faster on
   * its own; bytes that do not decode are checked as a step's would be (assertDecodes).
   */
  private async decodeSource(attempt: Attempt, original: UnverifiedImage, load: () => Promise<Buffer>): Promise<DecodedPixels | null> {
    const data = await load();
    try {
      const { format } = await sharp(data).metadata();
      if (format !== undefined && DECODED_AT_REDUCED_SCALE.has(format)) return null;
      return await decodePixels(data, this.config.MAX_PIXELS, attempt.secondsLeft());
    } catch (error) {
      attempt.throwIfStopped();
      await this.assertDecodes(original, data);
      throw new UnrecoverableError(`The source image could not be decoded: ${(error as Error).message}`);
    }
  }

  private sourceOf(output: StoredOutput): StepSource {
    const { data, pixels } = output;
    return { sha256: output.sha256, pixels, load: data ? async () => data : () => this.runner.read(output.s3Key) };
  }

  /** An original uploaded before files were hashed: hashed once here, as the work key needs it. */
  private async hashOf(imageId: number, key: string): Promise<string> {
    return createHash('sha256')
      .update(await this.readSource(imageId, key))
      .digest('hex');
  }

  private async runOrReuse(attempt: Attempt, index: number, step: ProcessStep, input: StepSource, progress: number): Promise<StoredOutput> {
    const started = performance.now();
    const operation = this.registry.get(step.name);
    if (!operation) throw new UnrecoverableError(`"${step.name}" is no longer an operation this worker knows`);
    const context = { pngCompression: this.config.PNG_COMPRESSION };
    const key = stepWorkKey(input.sha256, step, context);
    let reused: StoredOutput | null = null;
    if (!attempt.job.force) {
      await input.assertStored?.();
      reused = await this.runner.reuseOutput(attempt, index, step.name, progress, key);
    }
    const output =
      reused ??
      (await this.runner.storeOutput(
        attempt,
        index,
        step.name,
        await this.runStep(attempt, index, operation, step, input, context),
        progress,
        key,
      ));
    const seconds = (performance.now() - started) / 1000;
    this.metrics.stepEnded(step.name, reused !== null, seconds);
    const durationMs = Math.round(seconds * 1000);
    this.logger.debug({
      msg: `Step ${index + 1} (${step.name}) ${reused ? 'reused earlier identical work' : 'done'} in ${durationMs} ms`,
      event: 'step_ended',
      reused: reused !== null,
      duration_ms: durationMs,
    });
    return output;
  }

  /** A file gone from storage will not come back by retrying; storage out of reach might. */
  private async readSource(imageId: number, key: string): Promise<Buffer> {
    try {
      return await this.runner.read(key);
    } catch (error) {
      if (error instanceof StorageObjectNotFoundError) throw missingSource(imageId);
      throw error;
    }
  }

  private async runStep(
    attempt: Attempt,
    index: number,
    operation: Operation,
    step: ProcessStep,
    input: StepSource,
    context: OperationContext,
  ): Promise<OperationOutput> {
    const decoded = !input.pixels && input.decoded ? await input.decoded() : null;
    const opened: StepInput = input.pixels ? { pixels: input.pixels } : decoded ? { decoded } : { data: await input.load() };
    const image = openStepInput(opened, this.config.MAX_PIXELS, attempt.secondsLeft());
    try {
      return await operation.run(image, step.params as never, context);
    } catch (error) {
      attempt.throwIfStopped();
      if (input.original && opened.data) await this.assertDecodes(input.original, opened.data);
      throw new UnrecoverableError(`Step ${index + 1} (${step.name}) could not process its input: ${(error as Error).message}`);
    }
  }

  /**
   * The upload was only checked for structure, so a step failing on the source's bytes may be the
   * first full decode finding them corrupt: decoded alone, they tell. A corrupt file fails the job
   * at once (decoding is deterministic, a retry would fail the same) and marks the image.
   */
  private async assertDecodes(original: UnverifiedImage, data: Buffer): Promise<void> {
    const reason = await decodeFailure(data, this.config.MAX_PIXELS);
    if (reason === null) return;
    await this.verification.markCorrupt(original, reason);
    throw corrupt(original.id, reason);
  }
}

/** `make`'s promise, made on the first call and shared by every later one. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

function corrupt(imageId: number, reason: string): UnrecoverableError {
  return new UnrecoverableError(`Image ${imageId} is corrupt: ${reason}`);
}

function missingSource(imageId: number): UnrecoverableError {
  return new UnrecoverableError(
    `The file of source image ${imageId} is missing from storage; upload it again (PUT /api/images/${imageId}/file)`,
  );
}
