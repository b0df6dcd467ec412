import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Principal } from '../auth/principal';
import { AppConfig } from '../config/app-config';
import { ImageTypesService } from '../image-types/image-types.service';
import { JobMetrics } from '../metrics/job-metrics';
import { JobQueue } from './job-queue';
import { InjectJobsDto } from './dto/inject-jobs.dto';
import { JOB_STATUS } from './job.entity';
import { Injection, InjectionSummary, parseInjection } from './job-injection';
import { AdvisoryLock } from '../database/advisory-locks';

/** Images per batch: one keyset page, one INSERT … SELECT, one bulk enqueue. */
export const INJECTION_BATCH = 2_000;

/** Told how far a scan has got, for a progress bar. */
export interface InjectionProgress {
  start(totalImages: number): void;
  advance(scannedImages: number): void;
}

interface BatchRow {
  image_id: number;
  done: boolean;
  pending: boolean;
  job_id: number | null;
  delivery_id: string | null;
}

/**
 * The injector (the RQ seed's "make sure all of the outputs exist"): for every image a selection
 * matches, creates the process job that image has no completed or pending (queued, running) copy
 * of, with the same sequence and params; a failed or cancelled copy counts as missing.
 *
 * Images are read in keyset batches by id, so memory stays bounded whatever the count. Each batch
 * is one statement: the page of images, whether each already has such a job (decided in SQL, one
 * probe of jobs_image_id_idx per image), and a multi-row insert of the missing jobs. Like POST /api/jobs.json, the
 * rows are committed first and then queued (here in bulk); should the queue be out of reach, the
 * reconciler queues them later. The jobs belong to each image's owner and take the defaults of a
 * new job (JOB_TIMEOUT, MAX_RETRY, no ttl).
 *
 * Quotas: an injection is an admin's maintenance, so the owners' QUOTA_JOBS_IN_PROGRESS is not
 * checked for it (a million images of one user would otherwise stop at the thousandth). The jobs
 * still count as in progress, so an owner's own new jobs may get 429 until they drain; their
 * outputs still count against the owner's storage quota in the worker.
 *
 * Concurrent injections of the same job (sequence and params) take turns batch by batch under a
 * transaction-scoped advisory lock, and each batch decides after taking it, so it sees every job
 * the previous holder committed: together they create no more than one run would.
 */
@Injectable()
export class JobInjectorService {
  private readonly logger = new Logger(JobInjectorService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly imageTypes: ImageTypesService,
    private readonly queue: JobQueue,
    private readonly config: AppConfig,
    private readonly metrics: JobMetrics,
  ) {}

  async inject(principal: Principal, dto: InjectJobsDto, progress?: InjectionProgress): Promise<InjectionSummary> {
    principal.requireAdmin('inject jobs');
    const injection = parseInjection(dto);
    if (injection.imageType !== null) await this.imageTypes.assertExists(injection.imageType, 'image_type');
    return this.run(injection, progress);
  }

  private async run(injection: Injection, progress?: InjectionProgress): Promise<InjectionSummary> {
    const summary: InjectionSummary = {
      sequence: injection.sequence,
      params: injection.params,
      matched: 0,
      done: 0,
      pending: 0,
      created: 0,
      force: injection.force,
      dryRun: injection.dryRun,
    };
    const filter = imageFilter(injection);
    if (progress) {
      const [{ count }] = await this.dataSource.query(`SELECT count(*)::int AS count FROM images i WHERE ${filter.where}`, filter.values);
      progress.start(count);
    }
    let afterId = 0;
    for (;;) {
      const rows = await this.batch(injection, filter, afterId);
      if (rows.length === 0) break;
      const created = rows.filter((row) => row.job_id !== null);
      for (const row of rows) {
        if (row.done) summary.done++;
        else if (row.pending) summary.pending++;
      }
      summary.matched += rows.length;
      summary.created += created.length;
      afterId = rows[rows.length - 1].image_id;
      this.metrics.jobsCreated(injection.sequence, created.length);
      if (created.length > 0) await this.enqueue(created, injection.sequence);
      progress?.advance(summary.matched);
      if (rows.length < INJECTION_BATCH) break;
    }
    this.logger.log(
      `Injected ${summary.created} ${injection.sequence.join(',')} job(s) over ${summary.matched} image(s)` +
        `${injection.dryRun ? ' (dry run)' : ''}: ${summary.done} done, ${summary.pending} pending`,
    );
    return summary;
  }

  /** One page of matching images after `afterId`, and in the same statement the jobs it lacks. */
  private batch(injection: Injection, filter: ImageFilter, afterId: number): Promise<BatchRow[]> {
    const values = [...filter.values];
    const param = (value: unknown) => `$${values.push(value)}`;
    const sequence = param(injection.sequence);
    const params = param(JSON.stringify(injection.params));
    // One probe of jobs_image_id_idx per image, as a lateral aggregate: written as two EXISTS, the
    // planner may hash every unfinished job of the table for each batch instead.
    const page = `
      SELECT i.id, i.user_id, i.s3_key, coalesce(s.done, false) AS done, coalesce(s.pending, false) AS pending
        FROM (SELECT i.id, i.user_id, i.s3_key FROM images i
               WHERE i.id > ${param(afterId)} AND ${filter.where}
               ORDER BY i.id
               LIMIT ${param(INJECTION_BATCH)}) i
       CROSS JOIN LATERAL (
         SELECT bool_or(j.status = '${JOB_STATUS.completed}') AS done,
                bool_or(j.status IN ('${JOB_STATUS.queued}', '${JOB_STATUS.running}')) AS pending
           FROM jobs j
          WHERE j.image_id = i.id AND j.job_type = ${sequence}::text[] AND j.params = ${params}::jsonb
       ) s`;
    if (injection.dryRun) {
      return this.dataSource.query(
        `WITH batch AS (${page}) SELECT id AS image_id, done, pending, NULL AS job_id, NULL AS delivery_id FROM batch ORDER BY id`,
        values,
      );
    }
    const statement = `
      WITH batch AS (${page}),
      created AS (
        INSERT INTO jobs (status, image_url, job_type, params, user_id, image_id, timeout, max_attempts, force)
        SELECT '${JOB_STATUS.queued}', b.s3_key, ${sequence}::text[], ${params}::jsonb, b.user_id, b.id,
               ${param(this.config.JOB_TIMEOUT)}, ${param(this.config.MAX_RETRY)}, ${param(injection.force)}::boolean
          FROM batch b
         WHERE ${param(injection.force)}::boolean OR NOT (b.done OR b.pending)
         ORDER BY b.id
        RETURNING id, image_id, delivery_id
      )
      SELECT b.id AS image_id, b.done, b.pending, c.id AS job_id, c.delivery_id
        FROM batch b LEFT JOIN created c ON c.image_id = b.id
       ORDER BY b.id`;
    return this.dataSource.transaction(async (manager) => {
      await lockInjection(manager, injection);
      return manager.query(statement, values) as Promise<BatchRow[]>;
    });
  }

  /** The rows are committed: a queue out of reach leaves them to the reconciler, as for a single job. */
  private async enqueue(rows: BatchRow[], sequence: string[]): Promise<void> {
    const jobs = rows.map((row) => ({ id: row.job_id!, deliveryId: row.delivery_id!, jobType: sequence }));
    await this.queue.enqueueMany(jobs).catch((error: Error) => {
      this.logger.warn(`${jobs.length} injected job(s) are saved but not yet queued (${error.message}); the reconciler will queue them`);
    });
  }
}

interface ImageFilter {
  where: string;
  values: unknown[];
}

/** Images the injection matches: those with a stored file (a process job needs one), as the selection narrows them. */
function imageFilter(injection: Injection): ImageFilter {
  const values: unknown[] = [];
  const conditions = ['i.s3_key IS NOT NULL'];
  if (injection.imageType !== null) {
    values.push(injection.imageType);
    conditions.push(`i.image_type_id = (SELECT id FROM image_types WHERE type_name = $${values.length})`);
  }
  if (injection.userId !== null) {
    values.push(injection.userId);
    conditions.push(`i.user_id = $${values.length}`);
  }
  if (injection.since !== null) {
    values.push(injection.since);
    conditions.push(`i.created_at >= $${values.length}`);
  }
  return { where: conditions.join(' AND '), values };
}

/** jsonb's text form is canonical (its keys sorted), so equal params take the same lock. */
async function lockInjection(manager: EntityManager, injection: Injection): Promise<void> {
  await manager.query("SELECT pg_advisory_xact_lock($1, hashtext(array_to_string($2::text[], ',') || ' ' || $3::jsonb::text))", [
    AdvisoryLock.JobInjection,
    injection.sequence,
    JSON.stringify(injection.params),
  ]);
}
