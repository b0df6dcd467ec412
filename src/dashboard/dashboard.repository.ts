import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { JobLane, JobState } from '../pipelines/job-states';

/** A job as the dashboard lists it: who, what, and how it ended or where it is. */
export interface JobSummary {
  id: number;
  userId: number;
  username: string;
  jobType: string[];
  status: JobState;
  lane: JobLane;
  error: string | null;
  progress: number;
  attempts: number;
  maxAttempts: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface StatusCount {
  queue: string;
  status: JobState;
  count: number;
}

/** The dashboard's reads of the jobs table. */
@Injectable()
export class DashboardRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Jobs by queue (the first element of job_type names the pipeline kind) and status. */
  countsByQueueAndStatus(): Promise<StatusCount[]> {
    return this.dataSource.query(`SELECT job_type[1] AS queue, status, count(*)::int AS count FROM jobs GROUP BY job_type[1], status`);
  }

  /** The `limit` jobs in one of `statuses` that changed last: the latest to end, or the newest queued. */
  listByStatus(statuses: JobState[], limit: number): Promise<JobSummary[]> {
    return this.dataSource.query(
      `SELECT j.id, j.user_id AS "userId", u.username, j.job_type AS "jobType", j.status, j.lane, j.error, j.progress,
              j.attempts, j.max_attempts AS "maxAttempts", j.created_at AS "createdAt",
              j.started_at AS "startedAt", j.finished_at AS "finishedAt"
         FROM jobs j JOIN users u ON u.id = j.user_id
        WHERE j.status = ANY($1)
        ORDER BY coalesce(j.finished_at, j.created_at) DESC, j.id DESC
        LIMIT $2`,
      [statuses, limit],
    );
  }

  async usernameOf(userId: number): Promise<string | null> {
    const [row] = await this.dataSource.query<{ username: string }[]>('SELECT username FROM users WHERE id = $1', [userId]);
    return row?.username ?? null;
  }
}
