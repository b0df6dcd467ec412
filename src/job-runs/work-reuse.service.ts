import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import type { Image } from '../images/image.entity';
import { Job } from './job.entity';
import { JobRepository } from './job.repository';
import { jobSpecOf, ProcessStep, startsFromSource } from '../pipelines/job-spec';
import { assertStorageAfterWrite, QuotaDefaults, quotaDefaults } from '../quotas/quotas';
import { lockFileReferences } from '../storage/file-reference.repository';
import { StorageDriver } from '../storage/storage.driver';
import { ReusableWorkRepository, ReusedOutput, StoredWork } from '../work-reuse/reusable-work.repository';
import { EncoderSettings, stepWorkKey } from '../work-reuse/work-key';

/** A new job followed through its steps while each one's work is found done. */
interface Chain {
  job: Job;
  sourceId: number;
  steps: ProcessStep[];
  /** The index of each branch's first step, which starts from the source (JobSpec). */
  branchStarts: number[];
  sourceSha256: string;
  /** The sha256 of the next step's input: the source's at a branch's start, else the previous reused output's. */
  inputSha256: string;
  outputs: ReusedOutput[];
}

/**
 * No redundant work (the RQ seed: the worker "won't overwrite an existing file unless explicitly
 * ordered to"): a step whose exact work (src/work-reuse/work-key.ts) was done before points at
 * that work's stored file rather than computing it again, unless its job says `force`.
 *
 * The worker does this step by step (JobRunner.reuseOutput). A new job whose every step was done
 * before is settled here as it is created, without being queued: the API records its outputs and
 * completes it in one transaction for a whole batch of jobs, so that repeating a pipeline costs
 * a few statements a job rather than a queue round trip and a worker's bookkeeping per step.
 */
@Injectable()
export class WorkReuse {
  private readonly logger = new Logger(WorkReuse.name);
  private readonly settings: EncoderSettings;
  private readonly quota: QuotaDefaults;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly repository: ReusableWorkRepository,
    private readonly jobs: JobRepository,
    private readonly storage: StorageDriver,
    config: AppConfig,
  ) {
    this.settings = { pngCompression: config.PNG_COMPRESSION };
    this.quota = quotaDefaults(config);
  }

  /**
   * The earliest stored output of work `key` whose file is still in storage; null when there is
   * none. `probed`: that key's files, when they were read already (with the job's claim).
   */
  async findStored(key: string, probed?: StoredWork[]): Promise<StoredWork | null> {
    const files = probed ?? (await this.repository.storedWork([key])).get(key) ?? [];
    return firstInStorage(files, this.storageCheck());
  }

  /**
   * Completes those of the new jobs `created` whose every step was done before, recording each
   * step's output as a new image that points at that work's file, and returns them as they are
   * now; the others are left for the queue. `sources` holds the jobs' source images. Only a
   * queued job that was never tried is completed, under its row's lock. Should anything stand in
   * the way (the owner's storage quota, a deadlock with a concurrent delete, the database), the
   * jobs are simply left to run: the worker reuses what it can, and reports what fails.
   */
  async completeDoneWork(created: Job[], sources: ReadonlyMap<number, Pick<Image, 'id' | 's3Key' | 'sha256'>>): Promise<Job[]> {
    try {
      const chains = await this.resolve(created, sources);
      if (chains.length === 0) return [];
      const completed = await this.record(chains);
      this.jobs.countCompleted(completed);
      for (const job of completed) {
        this.logger.log({
          msg: `Job ${job.id} completed as it was created: every step reused earlier identical work`,
          event: 'job_ended',
          job_id: job.id,
          outcome: 'completed',
          attempt: 0,
          duration_ms: 0,
        });
      }
      return completed;
    } catch (error) {
      this.logger.warn(
        `Earlier work could not be reused for ${created.length} new job(s) (${(error as Error).message}); they are queued instead`,
      );
      return [];
    }
  }

  /** The chains of jobs whose every step's work is done and stored, found a step at a time for all jobs at once. */
  private async resolve(created: Job[], sources: ReadonlyMap<number, Pick<Image, 'id' | 's3Key' | 'sha256'>>): Promise<Chain[]> {
    const isStored = this.storageCheck();
    let pending: Chain[] = [];
    for (const job of created) {
      const source = job.imageId === null ? undefined : sources.get(job.imageId);
      if (job.force || !source?.s3Key || !source.sha256) continue;
      const spec = jobSpecOf(job);
      if (spec.kind !== 'process' || spec.steps.length === 0) continue;
      pending.push({
        job,
        sourceId: source.id,
        steps: spec.steps,
        branchStarts: spec.branchStarts,
        sourceSha256: source.sha256,
        inputSha256: source.sha256,
        outputs: [],
      });
    }
    // A source gone from storage fails its job in the worker, with the reason, rather than completing here.
    const sourceStored = await Promise.all(pending.map((chain) => isStored(sources.get(chain.job.imageId!)!.s3Key!)));
    pending = pending.filter((_, index) => sourceStored[index]);
    const complete: Chain[] = [];
    for (let index = 0; pending.length > 0; index++) {
      const keys = pending.map((chain) =>
        stepWorkKey(startsFromSource(chain, index) ? chain.sourceSha256 : chain.inputSha256, chain.steps[index], this.settings),
      );
      const stored = await this.repository.storedWork([...new Set(keys)]);
      const found = await Promise.all(keys.map((key) => firstInStorage(stored.get(key) ?? [], isStored)));
      const next: Chain[] = [];
      pending.forEach((chain, position) => {
        const work = found[position];
        if (!work) return;
        const { job } = chain;
        chain.outputs.push({
          jobId: job.id,
          userId: job.userId,
          sourceId: chain.sourceId,
          stepIndex: index,
          step: chain.steps[index].name,
          workKey: keys[position],
          work,
        });
        chain.inputSha256 = work.sha256;
        (chain.outputs.length === chain.steps.length ? complete : next).push(chain);
      });
      pending = next;
    }
    return complete;
  }

  /** Whether a key's file is in storage, asked of the storage once per key however often it is checked. */
  private storageCheck(): (key: string) => Promise<boolean> {
    const answers = new Map<string, Promise<boolean>>();
    return (key) => {
      if (!answers.has(key))
        answers.set(
          key,
          this.storage.stat(key).then((info) => info !== null),
        );
      return answers.get(key)!;
    };
  }

  /**
   * One transaction for all `chains`. The files' reference locks come first, then the images the
   * new rows refer to (sources, and the outputs whose histograms are copied), then the jobs' rows:
   * the order in which deleting an image takes them, so the two never deadlock. A chain whose
   * images went meanwhile, or whose job left the queue, is left out.
   */
  private async record(chains: Chain[]): Promise<Job[]> {
    return this.dataSource.transaction(async (manager) => {
      const outputsOf = (chain: Chain) => chain.outputs;
      await lockFileReferences(manager, [...new Set(chains.flatMap(outputsOf).map((output) => output.work.s3Key))]);
      const imageIds = [...new Set(chains.flatMap((chain) => [chain.sourceId, ...chain.outputs.map((output) => output.work.imageId)]))];
      const present = await this.repository.holdImages(manager, imageIds);
      const intact = chains.filter(
        (chain) => present.has(chain.sourceId) && chain.outputs.every((output) => present.has(output.work.imageId)),
      );
      const untried = await this.jobs.lockUntried(
        manager,
        intact.map((chain) => chain.job.id),
      );
      const ready = intact.filter((chain) => untried.has(chain.job.id));
      if (ready.length === 0) return [];
      const outputs = ready.flatMap(outputsOf);
      const ids = await this.repository.insertOutputs(manager, outputs);
      const bytesByUser = new Map<number, number>();
      for (const output of outputs) bytesByUser.set(output.userId, (bytesByUser.get(output.userId) ?? 0) + output.work.bytes);
      // Owners in id order: two such transactions sharing owners take their storage locks in one order.
      for (const userId of [...bytesByUser.keys()].sort((a, b) => a - b)) {
        await assertStorageAfterWrite(manager, userId, this.quota, bytesByUser.get(userId)!, 'the reused outputs of new jobs');
      }
      let next = 0;
      const completions = ready.map((chain) => ({
        jobId: chain.job.id,
        outputImageIds: chain.outputs.map(() => ids[next++]),
        reusedSteps: chain.outputs.map((output) => output.stepIndex),
      }));
      return this.jobs.completeUntried(manager, completions);
    });
  }
}

async function firstInStorage(files: StoredWork[], isStored: (key: string) => Promise<boolean>): Promise<StoredWork | null> {
  for (const work of files) if (await isStored(work.s3Key)) return work;
  return null;
}
