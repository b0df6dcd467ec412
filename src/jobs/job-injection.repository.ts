import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AdvisoryLock } from '../database/advisory-locks';
import { JOB_LANE, JOB_STATUS } from '../job-runs/job.entity';
import type { Injection } from './job-injection';

/** Images per batch: one keyset page, one INSERT … SELECT, one bulk enqueue. */
export const INJECTION_BATCH = 2_000;

/** One image of a batch: whether it had a done or pending copy of the job, and the job made for it (null: none). */
export interface InjectionBatchRow {
  image_id: number;
  done: boolean;
  pending: boolean;
  job_id: number | null;
  delivery_id: string | null;
}

/** What a new injected job takes, as any new job: JOB_TIMEOUT, MAX_RETRY. */
export interface InjectedJobDefaults {
  timeout: number;
  maxAttempts: number;
}

interface ImageFilter {
  where: string;
  values: unknown[];
}

/** The injector's statements (JobInjectorService says what they decide). */
@Injectable()
export class JobInjectionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** How many images the injection matches, for a progress bar. */
  async countMatching(injection: Injection): Promise<number> {
    const filter = imageFilter(injection);
    const [{ count }] = await this.dataSource.query(`SELECT count(*)::int AS count FROM images i WHERE ${filter.where}`, filter.values);
    return count;
  }

  /** One page of matching images after `afterId`, and in the same statement the jobs it lacks. */
  batch(injection: Injection, afterId: number, defaults: InjectedJobDefaults): Promise<InjectionBatchRow[]> {
    const filter = imageFilter(injection);
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
    // Triggers: jobs_usage_insert and jobs_events_insert, as for any new job (see JobRepository).
    const statement = `
      WITH batch AS (${page}),
      created AS (
        INSERT INTO jobs (status, lane, image_url, job_type, params, user_id, image_id, timeout, max_attempts, force)
        SELECT '${JOB_STATUS.queued}', '${JOB_LANE.bulk}', b.s3_key, ${sequence}::text[], ${params}::jsonb, b.user_id, b.id,
               ${param(defaults.timeout)}, ${param(defaults.maxAttempts)}, ${param(injection.force)}::boolean
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
      return manager.query(statement, values) as Promise<InjectionBatchRow[]>;
    });
  }
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
