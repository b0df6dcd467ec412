import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import type { Job as QueuedJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { AppConfig } from '../config/app-config';
import { InvalidInputError } from '../pipelines/invalid-input.error';
import { withLogContext } from '../common/log-context';
import { formatOf } from '../pipelines/image-formats';
import { Job, JOB_STATUS, JobResult } from './job.entity';
import { Fence, FencedOut, JobInputs, JobRepository } from './job.repository';
import { JobMetrics } from '../metrics/job-metrics';
import { JobDispatcher } from './job-dispatcher';
import { QueuedJobData } from './queue-names';
import { newStorageKey } from '../pipelines/storage-key';
import { StorageDriver } from '../storage/storage.driver';
import type { WorkKeyText } from '../work-reuse/work-key';
import { WorkReuse } from './work-reuse.service';
import { AttemptWritesOutcome, JobOutputRepository, OutputRecord, RecordedOutput } from './job-output.repository';
import { JobStopListener, JobStopped } from './job-stop-listener';
import type { GreyLevels, OperationOutput } from '../pipelines/operation-output';

/**
 * A step's recorded output: its image, its file and that file's hash (what the next step's work key
 * starts from). `data` and `pixels` are at hand when this attempt computed it; otherwise the next
 * step that needs the bytes reads them.
 */
export interface StoredOutput {
  /** Null while its row waits for the job's completion (JobRunner.storeOutput). */
  id: number | null;
  s3Key: string;
  sha256: string;
  data?: Buffer;
  pixels?: GreyLevels;
}

/** What a job's work produced: its output images in step order, and for aggregates, a result. */
export interface JobOutcome {
  outputImageIds: number[];
  result?: JobResult;
  /** The job's source image, when this job was its first full decode: marked verified by the completion's own statement. */
  verifiedSourceId?: number;
}

/**
 * An attempt younger than this keeps its outputs' rows in memory and records them with its
 * completion, in one statement; one that has run longer records each step as it ends (with any
 * kept before it), so that a long job's progress shows and survives a crash.
 */
const KEEP_RECORDS_FOR_MS = 1000;

/** The abort reason of an attempt that ran past its job's timeout. */
class AttemptTimedOut extends Error {
  constructor(readonly seconds: number) {
    super(`Timed out after ${seconds} s`);
  }
}

/** The abort reason of attempts still running when the worker's shutdown grace runs out. */
class WorkerShuttingDown extends Error {
  constructor() {
    super('The worker is shutting down');
  }
}

/**
 * One attempt at a job: the job as claimed, the fence its writes must hold, and the signal that
 * aborts it on a cancel, on its timeout, or at the end of the worker's shutdown grace.
 */
export class Attempt {
  private readonly started = Date.now();
  private readonly deadline: number;
  /** Outputs whose files are stored and whose rows are not written yet. */
  readonly pending: OutputRecord[] = [];
  /** The outputs recorded so far, this attempt's or another delivery's, by id. */
  readonly recordedIds: number[] = [];

  constructor(
    readonly job: Job,
    readonly fence: Fence,
    readonly signal: AbortSignal,
    /** The job's source and earlier outputs, when the claim read them. */
    readonly inputs?: JobInputs,
  ) {
    this.deadline = this.started + job.timeout * 1000;
  }

  /** Whether a new output may wait for the completion rather than be recorded at once. */
  keepsRecords(): boolean {
    return Date.now() - this.started < KEEP_RECORDS_FOR_MS;
  }

  /** Called between steps and before every write. */
  throwIfStopped(): void {
    this.signal.throwIfAborted();
  }

  /** Whole seconds left before the timeout, for sharp's own limit on one pipeline. */
  secondsLeft(): number {
    return Math.max(1, Math.ceil((this.deadline - Date.now()) / 1000));
  }
}

/**
 * The life of a delivered job, whatever its pipeline. The runner claims the job's row (the
 * delivery must be the job's current one), runs its work under one AbortSignal, and settles it:
 * `completed`; `queued` again with a new delivery after a retryable failure, with exponential
 * backoff; `failed` with a reason once a failure is fatal or its attempts are spent. Every write
 * holds the attempt's fence, so an attempt that was cancelled, timed out or superseded records
 * nothing, even if its pixel work is still finishing.
 *
 * Delivery is at least once (a crashed or stalled worker's job is handed to another), so every
 * output is idempotent: it is recorded under the unique (job_id, step_index) pair, and a worker
 * that loses that race discards its own file. However often a job runs, it ends with one output
 * per step.
 */
@Injectable()
export class JobRunner implements BeforeApplicationShutdown {
  private readonly logger = new Logger(JobRunner.name);
  private readonly shutdown = new AbortController();
  private readonly active = new Set<Promise<void>>();
  private draining = false;

  constructor(
    private readonly jobs: JobRepository,
    private readonly outputs: JobOutputRepository,
    private readonly dispatcher: JobDispatcher,
    private readonly stops: JobStopListener,
    private readonly storage: StorageDriver,
    private readonly config: AppConfig,
    private readonly metrics: JobMetrics,
    private readonly reuse: WorkReuse,
  ) {}

  /**
   * On SIGTERM, running attempts get SHUTDOWN_GRACE to finish; those still running then are
   * handed back to the queue unfinished, without counting as an attempt. Runs before the queues
   * close, so the hand-back can enqueue.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.draining = true;
    const timer = setTimeout(() => this.shutdown.abort(new WorkerShuttingDown()), this.config.SHUTDOWN_GRACE * 1000);
    await Promise.allSettled([...this.active]);
    clearTimeout(timer);
  }

  /** `firstStep`: the text of the first step's work key, for the claim to look that work up (JobRepository.claim). */
  run(queued: QueuedJob<QueuedJobData>, work: (attempt: Attempt) => Promise<JobOutcome>, firstStep?: WorkKeyText): Promise<void> {
    if (this.draining) {
      // Failing the entry leaves the row queued; the reconciler queues it again for a worker that is staying.
      return Promise.reject(new Error('This worker is shutting down'));
    }
    const running = withLogContext({ job_id: queued.data.jobId }, () => this.runClaimed(queued.data, work, firstStep));
    this.active.add(running);
    return running.finally(() => this.active.delete(running));
  }

  private async runClaimed(
    { jobId, deliveryId }: QueuedJobData,
    work: (attempt: Attempt) => Promise<JobOutcome>,
    firstStep?: WorkKeyText,
  ): Promise<void> {
    const claim = await this.jobs.claim(jobId, deliveryId, firstStep);
    if (claim.kind !== 'stale') this.dispatcher.jobClaimed();
    if (claim.kind === 'expired') this.logger.log(`Job ${jobId} failed: it expired in the queue`);
    if (claim.kind === 'exhausted') this.logger.log(`Job ${jobId} failed: its workers were lost on every attempt`);
    if (claim.kind !== 'claimed') return;
    const started = performance.now();
    const { job } = claim;
    this.logger.log({
      msg: `Job ${jobId} started: ${job.jobType.join(', ')}, attempt ${claim.fence.attempt} of ${job.maxAttempts}`,
      event: 'job_started',
      job_type: job.jobType.join(','),
      attempt: claim.fence.attempt,
    });
    const stop = this.stops.watch(jobId);
    // A timer of our own rather than AbortSignal.timeout: a signal that AbortSignal.any only
    // holds weakly can be collected before it fires, and the attempt would never time out.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new AttemptTimedOut(claim.job.timeout)), claim.job.timeout * 1000);
    const attempt = new Attempt(claim.job, claim.fence, AbortSignal.any([stop.signal, timeout.signal, this.shutdown.signal]), claim.inputs);
    try {
      const outcome = await untilAborted(work(attempt), attempt.signal);
      attempt.throwIfStopped();
      const outputImageIds = [...new Set([...outcome.outputImageIds, ...attempt.recordedIds])];
      let finished: boolean;
      if (attempt.pending.length > 0) {
        await this.recordPending(attempt, { keptIds: outputImageIds, verifiedSourceId: outcome.verifiedSourceId });
        this.jobs.countCompleted([job]);
        finished = true;
      } else {
        finished = await this.jobs.finish(attempt.fence, JOB_STATUS.completed, { ...outcome, outputImageIds, progress: 100, error: null });
      }
      if (finished) this.ended(attempt, started, 'completed', `Job ${jobId} completed`);
    } catch (error) {
      // Outputs kept for the completion are not recorded: the next attempt, if any, computes them again.
      await this.discard(attempt.pending.splice(0));
      await this.settleFailure(attempt, started, attempt.signal.aborted ? attempt.signal.reason : error);
    } finally {
      clearTimeout(timer);
      stop.release();
      this.dispatcher.attemptEnded();
    }
  }

  private async settleFailure(attempt: Attempt, started: number, error: unknown): Promise<void> {
    const { job, fence } = attempt;
    if (error instanceof JobStopped || error instanceof FencedOut) {
      const message = `Job ${job.id}: attempt ${fence.attempt} stopped (the job was cancelled, deleted or taken over); its work is discarded`;
      this.ended(attempt, started, 'stopped', message);
      return;
    }
    if (error instanceof WorkerShuttingDown) {
      if (await this.jobs.requeue(fence, job.error, false)) await this.dispatcher.dispatch();
      this.ended(attempt, started, 'handed_back', `Job ${job.id} handed back to the queue unfinished: the worker is shutting down`);
      return;
    }
    if (error instanceof AttemptTimedOut) return this.retryOrFail(attempt, started, error.message);
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof UnrecoverableError || error instanceof InvalidInputError) {
      if (await this.jobs.finish(fence, JOB_STATUS.failed, { error: message })) {
        this.ended(attempt, started, 'failed', `Job ${job.id} failed: ${message}`);
      }
      throw new UnrecoverableError(message);
    }
    return this.retryOrFail(attempt, started, message);
  }

  /** A retryable failure: queued again after 1, 2, 4… s, or failed once it was the last attempt. */
  private async retryOrFail(attempt: Attempt, started: number, message: string): Promise<void> {
    const { job, fence } = attempt;
    if (fence.attempt >= job.maxAttempts) {
      const reason = job.maxAttempts > 1 ? `${message} (attempt ${fence.attempt} of ${job.maxAttempts})` : message;
      if (await this.jobs.finish(fence, JOB_STATUS.failed, { error: reason })) {
        this.ended(attempt, started, 'failed', `Job ${job.id} failed: ${reason}`);
      }
      throw new UnrecoverableError(reason);
    }
    const delaySeconds = 2 ** (fence.attempt - 1);
    const retryMessage = `Attempt ${fence.attempt} failed (${message}); retrying in ${delaySeconds} s`;
    if (await this.jobs.requeue(fence, retryMessage, true, delaySeconds)) this.dispatcher.dispatchAfter(delaySeconds * 1000);
    this.ended(attempt, started, 'retrying', `Job ${job.id}: attempt ${fence.attempt} failed (${message}); retrying in ${delaySeconds} s`);
  }

  /**
   * One line per attempt's end, with its outcome and duration, for log queries and alerts; the
   * attempt that ended its job (its transition made) is also timed in the metrics.
   */
  private ended(attempt: Attempt, started: number, outcome: string, msg: string): void {
    const seconds = (performance.now() - started) / 1000;
    if (outcome === 'completed' || outcome === 'failed') this.metrics.attemptEnded(attempt.job.jobType, outcome, seconds);
    const durationMs = Math.round(seconds * 1000);
    const level = outcome === 'failed' ? 'warn' : 'log';
    this.logger[level]({
      msg: `${msg} (${durationMs} ms)`,
      event: 'job_ended',
      outcome,
      attempt: attempt.fence.attempt,
      duration_ms: durationMs,
    });
  }

  /**
   * Stores step `index`'s output as a new image typed `step`, with its histogram if it has one,
   * and the job's progress. If another delivery recorded that step first, its output wins and is
   * returned instead. While the attempt is young (Attempt.keepsRecords) and unless `recordAtOnce`,
   * the file is stored but its row waits for the job's completion, written in the same statement
   * (its id is null until then); otherwise it is recorded now, with the outputs kept before it.
   */
  async storeOutput(
    attempt: Attempt,
    index: number,
    step: string,
    output: OperationOutput,
    progress: number,
    workKey: string | null,
    recordAtOnce = false,
  ): Promise<StoredOutput> {
    attempt.throwIfStopped();
    const format = formatOf(output.format);
    const key = newStorageKey('outputs', format.extension);
    const sha256 = createHash('sha256').update(output.data).digest('hex');
    await this.storage.put(key, output.data, format.mime);
    if (attempt.signal.aborted) {
      // The attempt settled while the file was written; nothing will record or discard it but this.
      await this.storage.delete(key).catch(() => undefined);
      attempt.throwIfStopped();
    }
    attempt.pending.push({
      step,
      index,
      key,
      format: output.format,
      width: output.width,
      height: output.height,
      blurhash: output.blurhash,
      dominantColor: output.dominantColor,
      bytes: output.data.length,
      sha256,
      histogram: output.histogram,
      progress,
      workKey,
    });
    const computed: StoredOutput = { id: null, s3Key: key, sha256, data: output.data, pixels: output.pixels };
    if (!recordAtOnce && attempt.keepsRecords()) return computed;
    const recorded = (await this.recordPending(attempt)).find((entry) => entry.index === index)!;
    return recorded.own ? { ...computed, id: recorded.id } : { id: recorded.id, s3Key: recorded.s3Key, sha256: recorded.sha256 };
  }

  /**
   * Records the attempt's pending outputs under its fence, and with `completeWith` completes the
   * job with those outputs and the ones recorded before (`keptIds`), all in one statement. A step
   * another delivery recorded first keeps that delivery's output, and this attempt's file for it
   * is deleted. If nothing is recorded (fenced out, past
   * the storage quota, source deleted, an error), the pending files are deleted.
   */
  private async recordPending(
    attempt: Attempt,
    completeWith?: { keptIds: number[]; verifiedSourceId?: number },
  ): Promise<RecordedOutput[]> {
    const outputs = attempt.pending.splice(0);
    let written: AttemptWritesOutcome;
    try {
      attempt.throwIfStopped();
      [written] = await this.outputs.recordAttempts([
        {
          fence: attempt.fence,
          outputs,
          complete: completeWith !== undefined,
          keptIds: completeWith?.keptIds ?? [],
          verifiedSourceId: completeWith?.verifiedSourceId,
        },
      ]);
    } catch (error) {
      await this.discard(outputs);
      throw error;
    }
    if (written.outcome === 'fenced' || written.outcome === 'refused') {
      await this.discard(outputs);
      // The job ends failed with the reason.
      throw written.outcome === 'fenced' ? new FencedOut(attempt.fence.jobId) : new UnrecoverableError(written.reason);
    }
    const lost = new Set(written.outputs.filter((entry) => !entry.own).map((entry) => entry.index));
    await this.discard(outputs.filter((output) => lost.has(output.index)));
    attempt.recordedIds.push(...written.outputs.map((entry) => entry.id));
    return written.outputs;
  }

  private async discard(outputs: OutputRecord[]): Promise<void> {
    await Promise.all(outputs.map((output) => this.storage.delete(output.key).catch(() => undefined)));
  }

  /**
   * Records step `index` as pointing at the stored output of earlier identical work, rather than
   * computing it. Null when there is none to point at (any more): the step must be computed.
   */
  async reuseOutput(attempt: Attempt, index: number, step: string, progress: number, workKey: string): Promise<StoredOutput | null> {
    attempt.throwIfStopped();
    const probed = attempt.inputs?.firstStepWork;
    const stored = await this.reuse.findStored(workKey, probed?.key === workKey ? probed.files : undefined);
    if (stored === null) return null;
    // Recorded first, so that the job's progress never runs ahead of its recorded steps.
    if (attempt.pending.length > 0) await this.recordPending(attempt);
    const reused = await this.outputs.reuse(attempt.fence, attempt.job.userId, attempt.job.imageId, stored, {
      step,
      index,
      workKey,
      progress,
    });
    if (reused === 'taken') return this.recordedOutput(attempt.job.id, index);
    return reused;
  }

  /** Another delivery recorded this step first: its output wins. */
  private async recordedOutput(jobId: number, index: number): Promise<StoredOutput> {
    const winner = await this.outputs.outputOf(jobId, index);
    return { id: winner.id, s3Key: winner.s3Key!, sha256: winner.sha256! };
  }

  async read(key: string): Promise<Buffer> {
    return buffer(await this.storage.get(key));
  }
}

async function buffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The work's result, or the signal's reason as soon as it aborts: pixel work that cannot be
 * interrupted finishes in the background, and its writes are refused by the fence.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
