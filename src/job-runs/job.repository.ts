import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryDeepPartialEntity } from 'typeorm';
import { applySelection } from '../common/selection/apply-selection';
import { entityFromRow } from '../database/entity-from-row';
import { JobMetrics } from '../metrics/job-metrics';
import { JobSlotGrant, jobSlotRefusal, QuotaDefaults } from '../quotas/quotas';
import { markSourceVerified } from './verified-source';
import type { Selection } from '../pipelines/selection';
import { Job, JOB_STATUS, JobResult } from './job.entity';
import type { JobLane } from '../pipelines/job-states';
import { EARLIEST_IMAGES_PER_KEY, StoredWork, storedWorkOf, StoredWorkRow } from '../work-reuse/reusable-work.repository';
import type { WorkKeyText } from '../work-reuse/work-key';

/** PostgreSQL channel on which a job's running attempt is told to stop (cancel, delete, source deleted). */
export const JOB_STOP_CHANNEL = 'darkroom_job_stop';

/**
 * What an attempt must still hold for its writes to count: the row's delivery id and attempt
 * number, with the job `running`. A cancel, a timeout, a retry or a takeover changes one of them,
 * so a write from an attempt that was stopped changes nothing.
 */
export interface Fence {
  jobId: number;
  deliveryId: string;
  attempt: number;
}

/** A job to create, every rule checked (JobsService): the columns a creation sets. */
export interface NewJob {
  environment: string | null;
  imageUrl: string | null;
  jobType: string[];
  params: Record<string, object>;
  userId: number;
  imageId: number | null;
  timeout: number;
  ttl: number | null;
  maxAttempts: number;
  force: boolean;
  callbackUrl: string | null;
  lane: JobLane;
}

/** The attempt's fence no longer holds: the job was cancelled, deleted, failed or taken over. */
export class FencedOut extends Error {
  constructor(readonly jobId: number) {
    super(`Job ${jobId}: this attempt was stopped; its work is discarded`);
  }
}

/** An image file a job reads or has recorded: its row's id, its storage key and its hash (null when it was uploaded before files were hashed). */
export interface StoredFile {
  id: number;
  s3Key: string | null;
  sha256: string | null;
}

/** A job's source image: its file, and what its one full decode found (src/images/image-structure.ts). */
export interface SourceImage extends StoredFile {
  status: string;
  corruptReason: string | null;
  /** Null until a decode of the whole file succeeded; text when it comes through the claim's JSON. */
  verifiedAt: Date | string | null;
}

/** What a process job starts from: its source (null once deleted) and the outputs its earlier attempts recorded, by step. */
export interface JobInputs {
  source: SourceImage | null;
  recorded: Map<number, StoredFile>;
  /** The earlier work found under the first step's work key, as the claim computed it from the source's sha256. */
  firstStepWork?: { key: string; files: StoredWork[] };
}

/**
 * The one mapping of images rows to a job's inputs, written in SQL so that the claim carries them
 * in its own statement: a source image (SourceImage), from a row set with the images columns
 * id, s3_key, sha256, status, corrupt_reason and verified_at.
 */
export const SOURCE_IMAGE_JSON = `json_build_object('id', id, 's3Key', s3_key, 'sha256', sha256, 'status', status,
                      'corruptReason', corrupt_reason, 'verifiedAt', verified_at)`;

/** The same for recorded outputs: one JSON array of StoredFile and its step, from images rows. */
export const RECORDED_OUTPUTS_JSON = `json_agg(json_build_object('id', id, 'stepIndex', step_index, 's3Key', s3_key, 'sha256', sha256))`;

/** A job's source and recorded outputs from the columns SOURCE_IMAGE_JSON and RECORDED_OUTPUTS_JSON made. */
export function jobInputsOf(source: unknown, recorded: unknown): Pick<JobInputs, 'source' | 'recorded'> {
  const outputs = (recorded ?? []) as (StoredFile & { stepIndex: number })[];
  return {
    source: (source as SourceImage | null) ?? null,
    recorded: new Map(outputs.map(({ stepIndex, ...file }) => [stepIndex, file])),
  };
}

export type Claim =
  /** `inputs` come with the common claim; a takeover reads them apart (JobOutputRepository.sourceAndRecorded). */
  | { kind: 'claimed'; job: Job; fence: Fence; inputs?: JobInputs }
  /** The entry is not the job's current one, or the job already ended: nothing to do. */
  | { kind: 'stale' }
  | { kind: 'expired'; job: Job }
  /** A worker died holding the job as often as it may be tried. */
  | { kind: 'exhausted'; job: Job };

const UNFINISHED = [JOB_STATUS.queued, JOB_STATUS.running];
const ENDED = [JOB_STATUS.failed, JOB_STATUS.cancelled];

/**
 * Every change of a job's state, each one conditional so that concurrent actors (API processes,
 * workers, the reconciler) cannot undo each other: see JOBS.md's table of transitions. A job's
 * creation and its end are counted in the metrics here, once the row has changed (and, for a
 * transaction of its own, committed), so that a transition lost to another actor counts nothing.
 *
 * Triggers on `jobs` write more, in the same transaction as each statement here; each transition
 * below names those it fires:
 * - `jobs_events_insert`, and `jobs_events_update` when status or progress changes, run
 *   record_job_event (migrations JobEvents, JobEventOutbox): ONE `job_events` row (the outbox
 *   replay reads), `status` for a change of status (the whole state: status, progress, attempts,
 *   error, outputs, result), `progress` for a change of progress alone; and ONE NOTIFY on
 *   `darkroom_job_events`, delivered at commit (src/events). When the status becomes completed,
 *   failed or cancelled and the job has a callback_url, the same call inserts its
 *   `webhook_deliveries` row, which the notice names for the workers' WebhookDispatcher.
 * - `jobs_usage_insert` and `jobs_usage_delete` run record_job_usage (migration UsageDeltas): a
 *   `user_usage_deltas` row per owner in the statement (jobs ± count), folded later into `users`
 *   (docs/counters.md).
 * A write that changes neither status nor progress (delivery id, outputs, attempts alone) fires
 * no event trigger.
 */
@Injectable()
export class JobRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: JobMetrics,
  ) {}

  private get jobs() {
    return this.dataSource.getRepository(Job);
  }

  findById(id: number): Promise<Job | null> {
    return this.jobs.findOneBy({ id });
  }

  /** The jobs a selection picks (JobsService scopes it to the caller). */
  list(selection: Selection): Promise<Job[]> {
    return applySelection(this.jobs.createQueryBuilder('job'), selection).getMany();
  }

  /**
   * A new queued job, if its owner has room for one more job in progress (QuotaExceededError
   * otherwise): a batch of one (insertMany), the row coming back from the INSERT itself.
   */
  async insert(job: NewJob, quota: QuotaDefaults): Promise<Job> {
    const [outcome] = await this.insertMany([job], quota);
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  /**
   * Many new queued jobs in one statement, in order: each owner's room is granted once for all of
   * theirs by reserve_job_slots (see JobSlotGrant: owners locked in id order, so two batches
   * never wait on each other in a cycle), the jobs that fit are inserted by the same statement,
   * and a job past its owner's room is answered with the QuotaExceededError a single creation
   * would have got, in its place (InvalidInputError for an owner that does not exist). One round
   * trip in autocommit: the owners' locks last until the statement commits. The rows travel as
   * one JSON parameter rather than through TypeORM's insert builder, which spent about 0.1 ms of
   * CPU a row building the statement.
   */
  async insertMany(jobs: NewJob[], quota: QuotaDefaults): Promise<(Job | Error)[]> {
    if (jobs.length === 0) return [];
    const byOwner = new Map<number, number[]>();
    jobs.forEach((job, index) => {
      const indices = byOwner.get(job.userId);
      if (indices) indices.push(index);
      else byOwner.set(job.userId, [index]);
    });
    const owners = [...byOwner.keys()].sort((a, b) => a - b);
    const rows = jobs.map((job, ord) => ({
      ord,
      environment: job.environment,
      image_url: job.imageUrl,
      job_type: job.jobType,
      params: job.params,
      user_id: job.userId,
      image_id: job.imageId,
      timeout: job.timeout,
      ttl: job.ttl,
      max_attempts: job.maxAttempts,
      force: job.force,
      callback_url: job.callbackUrl,
      lane: job.lane,
    }));
    // Triggers: jobs_usage_insert (one usage delta per owner, for the statement) and jobs_events_insert
    // (per job: a `queued` status event and its NOTIFY).
    // Each owner's first `granted` jobs are inserted; ids are drawn as the ordered rows are
    // inserted, so id order is the order of the batch. An owner with none inserted still has its row.
    const answer = (await this.dataSource.query(
      `WITH grants AS MATERIALIZED (
         SELECT * FROM reserve_job_slots($2::integer[], $3::integer[], $4)
       ), wanted AS (
         SELECT r.*, row_number() OVER (PARTITION BY r.user_id ORDER BY r.ord) AS nth
           FROM jsonb_to_recordset($1::jsonb) AS r(ord integer, environment text, image_url varchar, job_type text[], params jsonb,
                user_id integer, image_id integer, timeout integer, ttl integer, max_attempts integer, force boolean, callback_url text,
                lane varchar)
       ), inserted AS (
         INSERT INTO jobs (status, environment, image_url, job_type, params, user_id, image_id, timeout, ttl, max_attempts, force, callback_url, lane)
         SELECT $5, w.environment, w.image_url, w.job_type, w.params, w.user_id, w.image_id, w.timeout, w.ttl, w.max_attempts, w.force, w.callback_url,
                w.lane
           FROM wanted w JOIN grants g ON g.user_id = w.user_id AND w.nth <= g.granted
          ORDER BY w.ord
         RETURNING *
       )
       SELECT g.user_id AS grant_user_id, g.known AS grant_known, g.used AS grant_used, g.job_limit AS grant_job_limit,
              g.granted AS grant_granted, i.*
         FROM grants g LEFT JOIN inserted i ON i.user_id = g.user_id
        ORDER BY i.id`,
      [JSON.stringify(rows), owners, owners.map((owner) => byOwner.get(owner)!.length), quota.jobsInProgress, JOB_STATUS.queued],
    )) as (GrantColumns & Record<string, unknown>)[];
    const outcomes: (Job | Error)[] = new Array(jobs.length);
    const insertedOf = new Map<number, number>();
    for (const row of answer) {
      const grant = grantOf(row);
      const indices = byOwner.get(grant.user_id)!;
      const inserted = insertedOf.get(grant.user_id);
      if (inserted === undefined) for (const index of indices.slice(grant.granted)) outcomes[index] = jobSlotRefusal(grant, grant.granted);
      if (row.id === null) continue;
      outcomes[indices[inserted ?? 0]] = this.toJob(this.dataSource.manager, row);
      insertedOf.set(grant.user_id, (inserted ?? 0) + 1);
    }
    // Counted once committed (the statement was its own transaction): a failed insert created nothing.
    for (const outcome of outcomes) if (!(outcome instanceof Error)) this.metrics.jobsCreated(outcome.jobType);
    return outcomes;
  }

  /** Changes a job only while it is still queued; false when it has left that state. */
  async updateQueued(id: number, changes: QueryDeepPartialEntity<Job>): Promise<boolean> {
    // No trigger: a queued job's changes (PUT /api/jobs/:id) touch neither status nor progress.
    const { affected } = await this.jobs.update({ id, status: JOB_STATUS.queued }, changes);
    return Boolean(affected);
  }

  /** `queued | running → cancelled`, and a word to the worker running it. Null when it had already ended. */
  async cancel(id: number): Promise<Job | null> {
    // Triggers: jobs_events_update (a `cancelled` status event, its NOTIFY, and the webhook delivery of a job with a callback_url).
    const cancelled = await this.dataSource.transaction(async (manager) => {
      const [stopped] = await this.stopUnfinished(manager, 'id = :id', { id }, { status: JOB_STATUS.cancelled, error: null });
      return stopped ? this.toJob(manager, stopped) : null;
    });
    if (cancelled) this.metrics.jobEnded(cancelled.jobType, 'cancelled');
    return cancelled;
  }

  /**
   * Fails every unfinished job working on `imageId`, in the caller's transaction (the one that
   * deletes the image), and tells their workers to stop. The caller counts them (`countFailed`)
   * once that transaction has committed.
   */
  async failJobsOfImage(manager: EntityManager, imageId: number): Promise<Pick<Job, 'id' | 'jobType'>[]> {
    // Triggers: jobs_events_update, per job (a `failed` status event, its NOTIFY, and the webhook delivery of a job with a callback_url).
    const stopped = await this.stopUnfinished(
      manager,
      'image_id = :imageId',
      { imageId },
      {
        status: JOB_STATUS.failed,
        error: `Source image ${imageId} was deleted`,
      },
    );
    return stopped.map((row) => ({ id: row.id as number, jobType: row.job_type as string[] }));
  }

  /**
   * The jobs of `ids` that are queued and were never tried, locked until `manager`'s transaction
   * ends, so that none is claimed, cancelled or deleted before `completeUntried` ends it.
   */
  async lockUntried(manager: EntityManager, ids: number[]): Promise<Set<number>> {
    const rows: { id: number }[] = await manager.query(
      'SELECT id FROM jobs WHERE id = ANY($1::int[]) AND status = $2 AND attempts = 0 ORDER BY id FOR UPDATE',
      [ids, JOB_STATUS.queued],
    );
    return new Set(rows.map((row) => row.id));
  }

  /**
   * `queued → completed` with no attempt, for jobs held by `lockUntried` whose every step pointed
   * at earlier identical work (src/work-reuse): their outputs are recorded, so nothing is left to
   * run. The caller counts them (`countCompleted`) once its transaction has committed.
   */
  async completeUntried(
    manager: EntityManager,
    completions: { jobId: number; outputImageIds: number[]; reusedSteps: number[] }[],
  ): Promise<Job[]> {
    // Triggers: jobs_events_update, per job (a `completed` status event with its outputs, its NOTIFY,
    // and the webhook delivery of a job with a callback_url).
    // TypeORM answers an UPDATE's query() with [rows, count].
    const [rows]: [Record<string, unknown>[], number] = await manager.query(
      `UPDATE jobs SET status = $2, progress = 100, error = NULL, started_at = now(), finished_at = now(), updated_at = now(),
              output_image_ids = r.output_image_ids, reused_steps = r.reused_steps
         FROM jsonb_to_recordset($1::jsonb) AS r(job_id integer, output_image_ids integer[], reused_steps smallint[])
        WHERE jobs.id = r.job_id AND jobs.status = $3
       RETURNING jobs.*`,
      [
        JSON.stringify(
          completions.map((entry) => ({ job_id: entry.jobId, output_image_ids: entry.outputImageIds, reused_steps: entry.reusedSteps })),
        ),
        JOB_STATUS.completed,
        JOB_STATUS.queued,
      ],
    );
    return rows.map((row) => this.toJob(manager, row)).sort((a, b) => a.id - b.id);
  }

  /** Jobs completed in a caller's transaction (completeUntried), counted once it committed. */
  countCompleted(jobs: Pick<Job, 'jobType'>[]): void {
    for (const job of jobs) this.metrics.jobEnded(job.jobType, 'completed');
  }

  /** Jobs failed in a caller's transaction (failJobsOfImage), counted once it committed. */
  countFailed(jobs: Pick<Job, 'jobType'>[]): void {
    for (const job of jobs) this.metrics.jobEnded(job.jobType, 'failed');
  }

  /**
   * The deleted image `imageId` is no longer an output of job `jobId`: its id leaves the job's
   * `output_image_ids`, in the caller's transaction (the one that deletes the image, after the
   * delete: see `finish` for why the image's row is locked before the job's).
   */
  async removeOutput(manager: EntityManager, jobId: number, imageId: number): Promise<void> {
    // No trigger: output_image_ids alone records no event.
    await manager
      .createQueryBuilder()
      .update(Job)
      .set({ outputImageIds: () => 'array_remove(output_image_ids, :imageId)' })
      .where('id = :jobId AND :imageId = ANY(output_image_ids)', { jobId, imageId })
      .execute();
  }

  /** The queued or running jobs working on image `imageId`, oldest first. */
  unfinishedJobsOfImage(imageId: number, manager: EntityManager = this.dataSource.manager): Promise<Pick<Job, 'id' | 'status'>[]> {
    return manager
      .getRepository(Job)
      .createQueryBuilder('job')
      .select(['job.id', 'job.status'])
      .where('job.imageId = :imageId AND job.status IN (:...unfinished)', { imageId, unfinished: UNFINISHED })
      .orderBy('job.id')
      .getMany();
  }

  /**
   * `failed | cancelled → queued`: a fresh delivery and a fresh count of attempts; recorded outputs
   * stay. Null when the job is not failed or cancelled. A job going back to the queue counts
   * against its owner's jobs in progress as a new one does (QuotaExceededError when full), under
   * the same lock as a creation (reserve_job_slots), in one statement.
   */
  async retry(id: number, quota: QuotaDefaults): Promise<Job | null> {
    // Triggers: jobs_events_update (a `queued` status event and its NOTIFY).
    const [row] = (await this.dataSource.query(
      `WITH ended AS (
         SELECT user_id FROM jobs WHERE id = $1 AND status = ANY ($3::varchar[])
       ), grants AS MATERIALIZED (
         SELECT * FROM reserve_job_slots(ARRAY(SELECT user_id FROM ended), ARRAY(SELECT 1 FROM ended), $2)
       ), requeued AS (
         UPDATE jobs SET status = $4, error = NULL, finished_at = NULL, attempts = 0, delivery_id = gen_random_uuid(), updated_at = now(),
                dispatched_at = NULL, run_after = NULL
           FROM grants g
          WHERE jobs.id = $1 AND jobs.status = ANY ($3::varchar[]) AND g.granted = 1
         RETURNING jobs.*
       )
       SELECT g.user_id AS grant_user_id, g.known AS grant_known, g.used AS grant_used, g.job_limit AS grant_job_limit,
              g.granted AS grant_granted, r.*
         FROM grants g LEFT JOIN requeued r ON true`,
      [id, quota.jobsInProgress, ENDED, JOB_STATUS.queued],
    )) as (GrantColumns & Record<string, unknown>)[];
    if (!row) return null;
    const grant = grantOf(row);
    if (grant.granted < 1) throw jobSlotRefusal(grant, 0);
    return row.id === null ? null : this.toJob(this.dataSource.manager, row);
  }

  async delete(id: number): Promise<void> {
    // Triggers: jobs_usage_delete (a usage delta of -1 job for the owner). No event: the job's kept
    // events stay until the sweep (job_events has no foreign key).
    await this.jobs.delete({ id });
  }

  /**
   * A worker takes the job its queue entry names. A job whose attempt was lost (its worker died,
   * and the queue handed the entry on) is taken over: the attempt number moves on, which fences
   * the lost attempt out should it still be running somewhere.
   */
  async claim(jobId: number, deliveryId: string, firstStep?: WorkKeyText): Promise<Claim> {
    // Triggers: jobs_events_update (a `running` status event and its NOTIFY), on either path below,
    // except for a takeover of a job still `running`, which changes neither status nor progress.
    // The common case in one round trip: a queued job, within its ttl, taken for its first or a
    // retried attempt, with its source, the outputs its earlier attempts recorded and, given the
    // text of its first step's work key, that work's earliest images (WorkReuse.findStored's probe).
    const [fresh]: Record<string, unknown>[] = await this.dataSource.query(
      `WITH claimed AS (
         UPDATE jobs SET status = $3, attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()
          WHERE id = $1 AND delivery_id = $2 AND status = $4
            AND (ttl IS NULL OR started_at IS NOT NULL OR created_at + make_interval(secs => ttl) >= now())
         RETURNING *),
       source AS (
         SELECT images.id, images.s3_key, images.sha256, images.status, images.corrupt_reason, images.verified_at
           FROM images JOIN claimed ON images.id = claimed.image_id),
       probe AS (
         SELECT encode(sha256(convert_to($5 || source.sha256 || $6, 'UTF8')), 'hex')::char(64) AS work_key
           FROM source, claimed WHERE $5::text IS NOT NULL AND source.sha256 IS NOT NULL AND NOT claimed.force)
       SELECT claimed.*,
              (SELECT ${SOURCE_IMAGE_JSON} FROM source) AS claimed_source,
              (SELECT ${RECORDED_OUTPUTS_JSON}
                 FROM images WHERE images.job_id = claimed.id AND images.step_index IS NOT NULL) AS claimed_recorded,
              (SELECT work_key FROM probe) AS probed_key,
              (SELECT json_agg(early ORDER BY early.id) FROM probe CROSS JOIN LATERAL (
                      SELECT id, s3_key, format, width, height, bytes, sha256 FROM images
                       WHERE images.work_key = probe.work_key AND s3_key IS NOT NULL ORDER BY id LIMIT $7) early) AS probed_work
         FROM claimed`,
      [
        jobId,
        deliveryId,
        JOB_STATUS.running,
        JOB_STATUS.queued,
        firstStep?.before ?? null,
        firstStep?.after ?? null,
        EARLIEST_IMAGES_PER_KEY,
      ],
    );
    if (fresh) {
      const claimed = this.toJob(this.dataSource.manager, fresh);
      const inputs: JobInputs = {
        ...jobInputsOf(fresh.claimed_source, fresh.claimed_recorded),
        ...(fresh.probed_key
          ? { firstStepWork: { key: fresh.probed_key as string, files: storedWorkOf((fresh.probed_work ?? []) as StoredWorkRow[]) } }
          : {}),
      };
      return { kind: 'claimed', job: claimed, fence: { jobId, deliveryId, attempt: claimed.attempts }, inputs };
    }
    const job = await this.jobs.findOneBy({ id: jobId, deliveryId });
    if (!job || !UNFINISHED.includes(job.status as never)) return { kind: 'stale' };
    if (job.status === JOB_STATUS.queued && isExpired(job)) {
      return (await this.expire(job)) ? { kind: 'expired', job } : { kind: 'stale' };
    }
    if (job.status === JOB_STATUS.running && job.attempts >= job.maxAttempts) {
      const fence = { jobId, deliveryId, attempt: job.attempts };
      const failed = await this.finish(fence, JOB_STATUS.failed, { error: lostWorkerMessage(job.attempts) });
      return failed ? { kind: 'exhausted', job } : { kind: 'stale' };
    }
    const { raw } = await this.jobs
      .createQueryBuilder()
      .update()
      .set({ status: JOB_STATUS.running, attempts: () => 'attempts + 1', startedAt: () => 'coalesce(started_at, now())' })
      .where('id = :jobId AND delivery_id = :deliveryId AND status = :status AND attempts = :attempts', {
        jobId,
        deliveryId,
        status: job.status,
        attempts: job.attempts,
      })
      .returning('*')
      .execute();
    if (!raw[0]) return { kind: 'stale' };
    const claimed = this.toJob(this.dataSource.manager, raw[0]);
    return { kind: 'claimed', job: claimed, fence: { jobId, deliveryId, attempt: claimed.attempts } };
  }

  /**
   * Locks the job's row for the rest of `manager`'s transaction if the fence holds, and records
   * progress; otherwise throws FencedOut, which rolls the transaction back.
   */
  async holdFence(manager: EntityManager, fence: Fence, progress: number): Promise<void> {
    // Triggers: jobs_events_update when `progress` moved (a `progress` event and its NOTIFY, at the step's commit).
    const { affected } = await manager
      .createQueryBuilder()
      .update(Job)
      .set({ progress })
      .where(fenceCondition, fenceParameters(fence))
      .execute();
    if (!affected) throw new FencedOut(fence.jobId);
  }

  /**
   * `running → completed | failed`, for the attempt holding the fence. False when it no longer does.
   *
   * The outputs recorded are those of `outputImageIds` that still exist, in step order: an output
   * deleted while the job was finishing is left out, whichever commits first. The subquery locks
   * the images it keeps (FOR KEY SHARE) before the job's row is written, so a concurrent delete
   * either has already removed its row (the lock waits for it, then skips the row) or waits for
   * this update and then removes its id from the list (ImagesService.remove deletes the image,
   * then updates the job: the same order, so the two never deadlock).
   *
   * `verifiedSourceId` names a source image still unverified that the job decoded: it is marked
   * verified in this same statement (src/job-runs/verified-source.ts), not in one of its own.
   */
  async finish(
    fence: Fence,
    status: string,
    changes: { error?: string | null; result?: JobResult; outputImageIds?: number[]; progress?: number; verifiedSourceId?: number },
  ): Promise<boolean> {
    // Triggers: jobs_events_update (a `completed` or `failed` status event with outputs, result and
    // error, its NOTIFY, and the webhook delivery of a job with a callback_url).
    const { outputImageIds, verifiedSourceId, ...rest } = changes;
    const query = this.jobs
      .createQueryBuilder()
      .update()
      .set({
        ...rest,
        ...(outputImageIds === undefined
          ? {}
          : {
              // Unqualified names: TypeORM rewrites words that are Job's properties (`image`) in an UPDATE.
              outputImageIds: () =>
                'ARRAY(SELECT id FROM images WHERE id = ANY(CAST(:outputImageIds AS integer[])) ORDER BY step_index, id FOR KEY SHARE)',
            }),
        status,
        finishedAt: () => 'now()',
      })
      .where(fenceCondition, fenceParameters(fence))
      .returning('job_type');
    if (outputImageIds !== undefined) query.setParameter('outputImageIds', outputImageIds);
    if (verifiedSourceId !== undefined) markSourceVerified(query, verifiedSourceId);
    const [ended] = (await query.execute()).raw as { job_type: string[] }[];
    if (ended && (status === JOB_STATUS.completed || status === JOB_STATUS.failed)) this.metrics.jobEnded(ended.job_type, status);
    return Boolean(ended);
  }

  /**
   * `running → queued`, pending its turn again (JobDispatcher), for the attempt holding the fence: a
   * retry after a failure (`attemptUsed`), not dispatched before `delaySeconds` have passed, or a
   * job handed back unfinished at shutdown (its attempt not counted).
   */
  async requeue(fence: Fence, error: string | null, attemptUsed: boolean, delaySeconds = 0): Promise<Job | null> {
    // Triggers: jobs_events_update (a `queued` status event and its NOTIFY).
    const { raw } = await this.jobs
      .createQueryBuilder()
      .update()
      .set({
        status: JOB_STATUS.queued,
        error,
        deliveryId: () => 'gen_random_uuid()',
        dispatchedAt: null,
        runAfter: delaySeconds > 0 ? () => `now() + make_interval(secs => ${Math.trunc(delaySeconds)})` : null,
        ...(attemptUsed ? {} : { attempts: () => 'attempts - 1' }),
      })
      .where(fenceCondition, fenceParameters(fence))
      .returning('*')
      .execute();
    return raw[0] ? this.toJob(this.dataSource.manager, raw[0]) : null;
  }

  /**
   * Jobs that should have a queue entry (running, or queued and dispatched) by id, a keyset batch at
   * a time, that have been in their state for `settledSeconds`. Pending jobs wait for the dispatcher.
   */
  deliveredBatch(afterId: number, limit: number, settledSeconds: number): Promise<Job[]> {
    return this.jobs
      .createQueryBuilder('job')
      .where('job.status IN (:...unfinished) AND job.id > :afterId', { unfinished: UNFINISHED, afterId })
      .andWhere('(job.status = :running OR job.dispatchedAt IS NOT NULL)', { running: JOB_STATUS.running })
      .andWhere('job.updatedAt < now() - make_interval(secs => :settledSeconds)', { settledSeconds })
      .orderBy('job.id')
      .limit(limit)
      .getMany();
  }

  /** `queued → failed` for every job still queued past its ttl, whether or not a worker is up. */
  async expireOverdue(): Promise<number[]> {
    // Triggers: jobs_events_update, per job (a `failed` status event, its NOTIFY, and the webhook delivery of a job with a callback_url).
    const { raw } = await this.jobs
      .createQueryBuilder()
      .update()
      .set({ status: JOB_STATUS.failed, error: () => ":expiredPrefix || ttl || ' s'", finishedAt: () => 'now()' })
      .where('status = :queued AND ttl IS NOT NULL AND started_at IS NULL AND created_at + make_interval(secs => ttl) < now()', {
        queued: JOB_STATUS.queued,
        expiredPrefix: 'Expired: still queued after its ttl of ',
      })
      .returning('id, job_type')
      .execute();
    const expired = raw as { id: number; job_type: string[] }[];
    for (const row of expired) this.metrics.jobEnded(row.job_type, 'failed');
    return expired.map((row) => row.id);
  }

  /**
   * The reconciler found the job's attempt gone (its queue entry lost or ended while the row says
   * `running`): pending again (its dispatch comes in its turn), or failed once its attempts are spent.
   */
  async recoverLost(job: Job): Promise<Job | null> {
    const fence = { jobId: job.id, deliveryId: job.deliveryId, attempt: job.attempts };
    if (job.attempts >= job.maxAttempts) {
      await this.finish(fence, JOB_STATUS.failed, { error: lostWorkerMessage(job.attempts) });
      return null;
    }
    return this.requeue(fence, `Attempt ${job.attempts} was lost (its worker stopped or the queue lost it); retrying`, true);
  }

  /** A queued job whose queue entry already ended: a new delivery id, so that it can be queued afresh. */
  async redeliver(job: Job): Promise<Job | null> {
    // No trigger: a new delivery id alone records no event.
    const { raw } = await this.jobs
      .createQueryBuilder()
      .update()
      .set({ deliveryId: () => 'gen_random_uuid()' })
      .where('id = :id AND status = :queued AND delivery_id = :deliveryId', {
        id: job.id,
        queued: JOB_STATUS.queued,
        deliveryId: job.deliveryId,
      })
      .returning('*')
      .execute();
    return raw[0] ? this.toJob(this.dataSource.manager, raw[0]) : null;
  }

  private async expire(job: Job): Promise<boolean> {
    // Triggers: jobs_events_update (a `failed` status event, its NOTIFY, and the webhook delivery of a job with a callback_url).
    const { affected } = await this.jobs.update(
      { id: job.id, deliveryId: job.deliveryId, status: JOB_STATUS.queued },
      { status: JOB_STATUS.failed, error: `Expired: still queued after its ttl of ${job.ttl} s`, finishedAt: () => 'now()' },
    );
    if (affected) this.metrics.jobEnded(job.jobType, 'failed');
    return Boolean(affected);
  }

  /** Ends the unfinished jobs `where` picks and notifies their workers when the transaction commits. */
  private async stopUnfinished(
    manager: EntityManager,
    where: string,
    parameters: Record<string, unknown>,
    changes: { status: string; error: string | null },
  ): Promise<Record<string, unknown>[]> {
    const { raw } = await manager
      .createQueryBuilder()
      .update(Job)
      .set({ ...changes, finishedAt: () => 'now()' })
      .where(`${where} AND status IN (:...unfinished)`, { ...parameters, unfinished: UNFINISHED })
      .returning('*')
      .execute();
    const rows = raw as Record<string, unknown>[];
    for (const row of rows) await manager.query('SELECT pg_notify($1, $2)', [JOB_STOP_CHANNEL, String(row.id)]);
    return rows;
  }

  private toJob(manager: EntityManager, row: Record<string, unknown>): Job {
    return entityFromRow(manager, Job, row);
  }
}

/** reserve_job_slots's answer for one owner, as the statements that call it select it beside the job's columns. */
interface GrantColumns {
  grant_user_id: number;
  grant_known: boolean;
  grant_used: number;
  grant_job_limit: number;
  grant_granted: number;
}

function grantOf(row: GrantColumns): JobSlotGrant {
  return {
    user_id: row.grant_user_id,
    known: row.grant_known,
    used: row.grant_used,
    job_limit: row.grant_job_limit,
    granted: row.grant_granted,
  };
}

const fenceCondition = 'id = :fenceJobId AND delivery_id = :fenceDeliveryId AND attempts = :fenceAttempt AND status = :fenceRunning';

function fenceParameters(fence: Fence) {
  return { fenceJobId: fence.jobId, fenceDeliveryId: fence.deliveryId, fenceAttempt: fence.attempt, fenceRunning: JOB_STATUS.running };
}

function isExpired(job: Job): boolean {
  return job.ttl !== null && job.startedAt === null && Date.now() - job.createdAt.getTime() > job.ttl * 1000;
}

function lostWorkerMessage(attempts: number): string {
  return `Its worker stopped during each of ${attempts} attempt${attempts === 1 ? '' : 's'} (killed, or out of memory); not retried again`;
}
