import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { PgListener, PgListenerOptions } from '../database/pg-listener';
import type { JobEventMessage } from './event-stream';

/** Which events a subscriber gets: one job's, or one user's (null: everyone's, for an admin). */
export type EventFilter = { jobId: number } | { userId: number | null };

/** A job_events row, as the table and the trigger's notice give it. */
export interface EventRow {
  id: string;
  job_id: number;
  user_id: number;
  type: string;
  data: Record<string, unknown>;
}

export const toMessage = (row: EventRow): JobEventMessage => ({
  id: String(row.id),
  jobId: row.job_id,
  userId: row.user_id,
  type: row.type,
  data: row.data,
});

/**
 * The job_events table (the outbox the job triggers write, migration JobEventOutbox), its secret,
 * and the channel its notices come on.
 */
@Injectable()
export class JobEventRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The installation's secret for events tokens, made by the migration JobEvents. */
  async secret(): Promise<string> {
    const [{ secret }] = await this.dataSource.query('SELECT secret FROM job_events_secret');
    return secret;
  }

  /** Up to `limit` events `filter` selects after id `cursor`, kept (newer than `windowSeconds`), oldest first. */
  after(filter: EventFilter, cursor: string, windowSeconds: number, limit: number): Promise<EventRow[]> {
    const [where, value] =
      'jobId' in filter
        ? ['job_id = $3', filter.jobId]
        : filter.userId === null
          ? ['$3::int IS NULL', null]
          : ['user_id = $3', filter.userId];
    return this.dataSource.query(
      `SELECT id, job_id, user_id, type, data FROM job_events
        WHERE id > $1 AND created_at >= now() - make_interval(secs => $2) AND ${where}
        ORDER BY id LIMIT ${Number(limit)}`,
      [cursor, windowSeconds, value],
    );
  }

  /** Whether event `id` is still kept (newer than `windowSeconds`), and of job `jobId` when one is given. */
  async isKept(id: string, windowSeconds: number, jobId: number | null): Promise<boolean> {
    const rows = await this.dataSource.query(
      `SELECT 1 FROM job_events WHERE id = $1 AND created_at >= now() - make_interval(secs => $2) AND ($3::int IS NULL OR job_id = $3)`,
      [id, windowSeconds, jobId],
    );
    return rows.length > 0;
  }

  /** Event `id`, for a notice too large to carry its data ([] once swept). */
  byId(id: string): Promise<EventRow[]> {
    return this.dataSource.query('SELECT id, job_id, user_id, type, data FROM job_events WHERE id = $1', [id]);
  }

  /** Every event recorded since `marginSeconds` before `since` (a database time), in id order. */
  since(since: string, marginSeconds: number): Promise<EventRow[]> {
    return this.dataSource.query(
      `SELECT id, job_id, user_id, type, data FROM job_events
        WHERE created_at >= $1::timestamptz - make_interval(secs => $2) ORDER BY id`,
      [since, marginSeconds],
    );
  }

  /** The database's clock, in the form the trigger writes `data.at` in. */
  async now(): Promise<string> {
    const [{ now }] = await this.dataSource.query(
      `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now`,
    );
    return now;
  }

  /** Deletes the events older than `seconds`. */
  async deleteOlderThan(seconds: number): Promise<void> {
    await this.dataSource.query('DELETE FROM job_events WHERE created_at < now() - make_interval(secs => $1)', [seconds]);
  }

  /** A listener, not yet started, on a channel of this database. */
  listener(options: Omit<PgListenerOptions, 'url'>): PgListener {
    return new PgListener({ ...options, url: (this.dataSource.options as PostgresDataSourceOptions).url! });
  }
}
