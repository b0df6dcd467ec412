import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { UnrecoverableError } from 'bullmq';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import type { Image } from '../images/image.entity';
import { IMAGE_STATUS } from '../pipelines/image-states';
import { histogramBinsOf, HistogramTarget } from '../histograms/histogram-bins';
import { Fence, FencedOut, JobInputs, jobInputsOf, JobRepository, RECORDED_OUTPUTS_JSON, SOURCE_IMAGE_JSON } from './job.repository';
import { AppConfig } from '../config/app-config';
import { lockFileReferences } from '../storage/file-reference.repository';
import { ReusableWorkRepository, StoredWork } from '../work-reuse/reusable-work.repository';
import { QuotaExceededError } from '../common/quota-exceeded.error';
import { assertStorageAfterWrite, QuotaDefaults, quotaDefaults } from '../quotas/quotas';

/** The images entity by name: the images resource sits above the job flow, which loads none of its code. */
const IMAGE = 'Image';

/** What a step's output is, once its file is stored. */
export interface OutputRecord {
  step: string;
  index: number;
  key: string;
  format: string;
  width: number;
  height: number;
  blurhash: string;
  dominantColor: string;
  bytes: number;
  sha256: string;
  histogram?: number[];
  progress: number;
  /** What made it (src/work-reuse/work-key.ts), so that the same work later reuses the file; null for aggregates. */
  workKey: string | null;
}

/** A step that was not computed: its new image points at the file of an earlier identical step. */
export interface PointedOutput {
  id: number;
  s3Key: string;
  sha256: string;
}

/** What `reuse` asks for: the step, its work key and the progress the job reaches with it. */
export interface ReuseRequest {
  step: string;
  index: number;
  workKey: string;
  progress: number;
}

/** One attempt's writes for `recordAttempts`: its outputs not yet recorded and, with `complete`, its completion. */
export interface AttemptWrites {
  fence: Fence;
  outputs: OutputRecord[];
  /** Completes the job, with these outputs recorded earlier and those of `outputs`. */
  complete: boolean;
  keptIds: number[];
  /** With `complete`: the job's source, still unverified, which this attempt decoded whole. */
  verifiedSourceId?: number;
}

/** A step's output as recorded: this attempt's (`own`), or another delivery's that recorded the step first. */
export type RecordedOutput =
  { index: number; id: number; own: true } | { index: number; id: number; own: false; s3Key: string; sha256: string };

/** What became of one attempt's writes. */
export type AttemptWritesOutcome =
  | { outcome: 'recorded' | 'completed'; outputs: RecordedOutput[]; jobType?: string[] }
  /** The fence no longer holds: nothing was written. */
  | { outcome: 'fenced' }
  /** Nothing was written: an output would have taken the owner past their storage quota, or the source was deleted. */
  | { outcome: 'refused'; reason: string };

interface AttemptWritesRow {
  job_id: number;
  outcome: 'recorded' | 'completed' | 'fenced' | 'quota' | 'source_deleted';
  message?: string;
  source_id?: number;
  outputs?: (
    { step_index: number; id: number; own: true } | { step_index: number; id: number; own: false; s3_key: string; sha256: string }
  )[];
  job_type?: string[];
}

/** The worker's writes of outputs: each one inside the attempt's fence. */
@Injectable()
export class JobOutputRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobRepository,
    private readonly reusable: ReusableWorkRepository,
    config: AppConfig,
  ) {
    this.quota = quotaDefaults(config);
  }

  private readonly quota: QuotaDefaults;

  /**
   * Job `jobId`'s source image `imageId` (null when it was deleted) and the outputs its earlier
   * attempts recorded, by step, read in one query.
   */
  async sourceAndRecorded(jobId: number, imageId: number): Promise<JobInputs> {
    const [row]: { source: unknown; recorded: unknown }[] = await this.dataSource.query(
      `SELECT (SELECT ${SOURCE_IMAGE_JSON} FROM images WHERE id = $2) AS source,
              (SELECT ${RECORDED_OUTPUTS_JSON} FROM images WHERE job_id = $1 AND step_index IS NOT NULL) AS recorded`,
      [jobId, imageId],
    );
    return jobInputsOf(row.source, row.recorded);
  }

  /**
   * Several attempts' writes in one statement (darkroom_record_attempts, migration
   * 1796700000004-WorkerWrites): each entry under its own fence and in its own subtransaction,
   * answered in the order of `entries`. The runner sends one attempt's at a time: gathering the
   * writes of attempts running together (group commit) was measured and did not pay (docs/worker.md). An error of the statement itself (the database out of
   * reach, a deadlock) concerns them all.
   */
  async recordAttempts(entries: AttemptWrites[]): Promise<AttemptWritesOutcome[]> {
    const payload = entries.map(({ fence, outputs, complete, keptIds, verifiedSourceId }) => ({
      job_id: fence.jobId,
      delivery_id: fence.deliveryId,
      attempt: fence.attempt,
      complete,
      kept_ids: keptIds,
      verified_source_id: verifiedSourceId ?? null,
      outputs: outputs.map((output) => ({
        step: output.step,
        step_index: output.index,
        s3_key: output.key,
        format: output.format,
        width: output.width,
        height: output.height,
        blurhash: output.blurhash,
        dominant_color: output.dominantColor,
        bytes: output.bytes,
        sha256: output.sha256,
        histogram: output.histogram ?? null,
        progress: output.progress,
        work_key: output.workKey,
      })),
    }));
    const [{ results }]: { results: AttemptWritesRow[] }[] = await this.dataSource.query(
      'SELECT darkroom_record_attempts($1::jsonb, $2::bigint) AS results',
      [JSON.stringify(payload), this.quota.storageBytes],
    );
    return results.map((row): AttemptWritesOutcome => {
      switch (row.outcome) {
        case 'fenced':
          return { outcome: 'fenced' };
        case 'quota':
          return { outcome: 'refused', reason: row.message! };
        case 'source_deleted':
          return { outcome: 'refused', reason: `Source image ${row.source_id} was deleted` };
        default:
          return {
            outcome: row.outcome,
            jobType: row.job_type,
            outputs: (row.outputs ?? []).map((output) =>
              output.own
                ? { index: output.step_index, id: output.id, own: true }
                : { index: output.step_index, id: output.id, own: false, s3Key: output.s3_key, sha256: output.sha256 },
            ),
          };
      }
    });
  }

  async outputOf(jobId: number, stepIndex: number): Promise<Image> {
    return this.dataSource.getRepository<Image>(IMAGE).findOneByOrFail({ jobId, stepIndex });
  }

  /** The bins of a histogram image of `userId`, named by id or by storage key (histogramBinsOf). */
  histogramOf(userId: number, target: HistogramTarget): Promise<number[] | null> {
    return histogramBinsOf(this.dataSource.manager, userId, target);
  }

  /**
   * Records step `request.index` as a new image pointing at the stored file of `work` (earlier
   * work with the same key: WorkReuse.findStored), with a copy of its histogram, and marks the step
   * reused, all under the attempt's fence. The file's reference lock is taken first and the image
   * of that work is held under it: should it have gone meanwhile, the file may be being deleted,
   * and null tells the caller to compute the step after all. `'taken'` means another delivery
   * recorded this step first.
   */
  async reuse(
    fence: Fence,
    userId: number,
    sourceId: number | null,
    work: StoredWork,
    request: ReuseRequest,
  ): Promise<PointedOutput | 'taken' | null> {
    try {
      return await this.dataSource.transaction(async (manager) => {
        await lockFileReferences(manager, [work.s3Key]);
        if (!(await this.reusable.holdImages(manager, [work.imageId])).has(work.imageId)) return null;
        await this.jobs.holdFence(manager, fence, request.progress);
        const id = await this.insertOutput(manager, fence, userId, sourceId, work.imageId, {
          ...request,
          key: work.s3Key,
          format: work.format,
          width: work.width,
          height: work.height,
          bytes: work.bytes,
          sha256: work.sha256,
        });
        if (id === null) return 'taken';
        await manager.query('INSERT INTO histograms (image_id, job_id, bins) SELECT $1, $2, bins FROM histograms WHERE image_id = $3', [
          id,
          fence.jobId,
          work.imageId,
        ]);
        await manager.query(
          'UPDATE jobs SET reused_steps = array_append(reused_steps, $2::smallint) WHERE id = $1 AND NOT $2::smallint = ANY(reused_steps)',
          [fence.jobId, request.index],
        );
        return { id, s3Key: work.s3Key, sha256: work.sha256 };
      });
    } catch (error) {
      if (error instanceof QuotaExceededError) throw new UnrecoverableError(error.message);
      throw describeConstraintError(error, fence, sourceId) ?? error;
    }
  }

  /**
   * The output's image row, unless another delivery recorded this step first (null). It shows the
   * same file as image `fromImageId`, whose placeholders it copies.
   */
  private async insertOutput(
    manager: EntityManager,
    fence: Fence,
    userId: number,
    sourceId: number | null,
    fromImageId: number,
    output: Omit<OutputRecord, 'histogram' | 'progress' | 'blurhash' | 'dominantColor'>,
  ): Promise<number | null> {
    const inserted = await manager
      .createQueryBuilder()
      .insert()
      .into<Image>(IMAGE)
      .values({
        status: IMAGE_STATUS.processed,
        s3Key: output.key,
        // Looked up as the row is written, so an image type deleted since the worker started is simply absent.
        imageTypeId: () => '(SELECT id FROM image_types WHERE type_name = :typeName)',
        userId,
        originalId: sourceId,
        jobId: fence.jobId,
        stepIndex: output.index,
        width: output.width,
        height: output.height,
        blurhash: () => '(SELECT blurhash FROM images WHERE id = :fromImageId)',
        dominantColor: () => '(SELECT dominant_color FROM images WHERE id = :fromImageId)',
        format: output.format,
        bytes: output.bytes,
        sha256: output.sha256,
        workKey: output.workKey,
      })
      .setParameter('typeName', output.step)
      .setParameter('fromImageId', fromImageId)
      .orIgnore()
      .returning('id')
      .execute();
    const id = (inserted.raw as { id: number }[])[0]?.id;
    if (id === undefined) return null;
    await assertStorageAfterWrite(manager, userId, this.quota, output.bytes, `the output of step ${output.index + 1} (${output.step})`);
    return id;
  }
}

/**
 * A foreign key that vanished under the transaction, named by its constraint: the job deleted
 * (the attempt is simply over), or its source image deleted (the job cannot go on).
 */
function describeConstraintError(error: unknown, fence: Fence, sourceId: number | null): Error | null {
  if (!(error instanceof QueryFailedError)) return null;
  const constraint = (error.driverError as { constraint?: string }).constraint;
  switch (constraint) {
    case 'images_job_id_fkey':
    case 'histograms_job_id_fkey':
      return new FencedOut(fence.jobId);
    case 'images_original_id_fkey':
      return new UnrecoverableError(`Source image ${sourceId} was deleted`);
    default:
      return null;
  }
}
