import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { JOB_LANE, type JobLane } from '../pipelines/job-states';
import { type QueueStanding, THROUGHPUT_WINDOW_SECONDS } from './queue-wait';

/** A pending job of the row set `j` in the queue and lane of `me` (the terms of jobs_pending_idx). */
const PENDING_IN_MY_LANE = `j.status = 'queued' AND j.dispatched_at IS NULL AND j.job_type[1] = me.queue AND j.lane = me.lane`;

/**
 * QUEUE_ORDER=fair: the pending jobs of the job's lane that the dispatcher's user turns
 * (src/job-runs/dispatch-order.ts) take first. The next turn goes to the user with the fewest jobs
 * in flight in the queue, takes their oldest pending job, and on a tie goes to the user served
 * longest ago (their last dispatch in the queue, finished jobs included: jobs_user_dispatches_idx),
 * then to the one whose oldest pending job is oldest. So a user's k-th pending job
 * (from 0) goes out when their in-flight count plus k is the lowest: those of another user with a
 * lower count go first, and at the same count those of a user ahead in the tie order. That order
 * holds at every count: the users who start at it (more in flight) before those who reach it by
 * the turns, then by when they were last served, then by their oldest pending job. Each other
 * user's pending jobs are read in id order only as far as that bound, so the work is about the
 * answer's size, whatever the backlog; the users come from a skip scan of jobs_pending_idx.
 */
const FAIR_PENDING_AHEAD = `
  WITH RECURSIVE in_flight AS (
    SELECT j.user_id, count(*)::int AS n FROM jobs j, me
     WHERE (j.status = 'running' OR (j.status = 'queued' AND j.dispatched_at IS NOT NULL)) AND j.job_type[1] = me.queue
     GROUP BY j.user_id
  ), waiting_users AS (
    SELECT (SELECT min(j.user_id) FROM jobs j WHERE ${PENDING_IN_MY_LANE}) AS user_id FROM me
    UNION ALL
    SELECT (SELECT min(j.user_id) FROM jobs j WHERE ${PENDING_IN_MY_LANE} AND j.user_id > w.user_id)
      FROM waiting_users w, me WHERE w.user_id IS NOT NULL
  ), users AS MATERIALIZED (
    SELECT w.user_id, coalesce(f.n, 0) AS in_flight,
           coalesce((SELECT max(j.dispatched_at) FROM jobs j
                      WHERE j.user_id = w.user_id AND j.job_type[1] = me.queue AND j.dispatched_at IS NOT NULL), '-infinity') AS last_dispatch,
           (SELECT min(j.id) FROM jobs j WHERE ${PENDING_IN_MY_LANE} AND j.user_id = w.user_id) AS oldest
      FROM waiting_users w CROSS JOIN me LEFT JOIN in_flight f ON f.user_id = w.user_id
     WHERE w.user_id IS NOT NULL
  ), mine AS MATERIALIZED (
    SELECT users.*, (SELECT count(*)::int FROM jobs j WHERE ${PENDING_IN_MY_LANE} AND j.user_id = me.user_id AND j.id < me.id) AS rank
      FROM users, me WHERE users.user_id = me.user_id
  )
  SELECT mine.rank + coalesce(sum(theirs.ahead), 0)::int FROM mine
    LEFT JOIN LATERAL (
      SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs j WHERE ${PENDING_IN_MY_LANE} AND j.user_id = other.user_id ORDER BY j.id LIMIT turn.upto) t)
               AS ahead
        FROM users other
       CROSS JOIN LATERAL (
         SELECT greatest(mine.in_flight + mine.rank - other.in_flight
                         + ((-other.in_flight, other.last_dispatch, other.oldest) < (-mine.in_flight, mine.last_dispatch, mine.oldest))::int, 0)
                  AS upto
       ) turn
       WHERE other.user_id <> mine.user_id
    ) theirs ON true
   GROUP BY mine.rank`;

/** QUEUE_ORDER=fifo: every pending job of the queue with a smaller id, whatever its lane or owner. */
const FIFO_PENDING_AHEAD = `
  SELECT count(*)::int FROM jobs j
   WHERE j.status = 'queued' AND j.dispatched_at IS NULL AND j.job_type[1] = me.queue AND j.id < me.id`;

/** The raw counts of QueueStanding, before the other lane is counted. */
interface StandingRow extends Omit<QueueStanding, 'otherLaneAhead'> {
  queue: string;
}

/**
 * The counts behind a queued job's place in its queue (src/jobs/queue-wait.ts turns them into an
 * estimate). Every count reads a partial index: the pending and in-flight ones jobs_pending_idx and
 * jobs_in_flight_idx, the recent starts jobs_started_idx.
 */
@Injectable()
export class QueueStandingRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Null when the job is not queued. `otherLaneLimit` says, from the pending jobs ahead in the
   * job's own lane, how many of the other lane's to count at most (the second statement reads no
   * further, however long the other lane's backlog).
   */
  async standingOf(
    jobId: number,
    order: 'fair' | 'fifo',
    otherLaneLimit: (lane: JobLane, pendingAhead: number) => number,
  ): Promise<QueueStanding | null> {
    const [row] = (await this.dataSource.query(
      `WITH me AS (
         SELECT id, user_id, job_type[1] AS queue, lane, dispatched_at, run_after FROM jobs WHERE id = $1 AND status = 'queued'
       )
       SELECT me.queue, me.lane, me.dispatched_at IS NOT NULL AS dispatched, me.run_after AS "runAfter",
              (SELECT count(*)::int FROM jobs j
                WHERE j.status = 'queued' AND j.dispatched_at IS NOT NULL AND j.job_type[1] = me.queue
                  AND (me.dispatched_at IS NULL OR (j.dispatched_at, j.id) < (me.dispatched_at, me.id))) AS "dispatchedAhead",
              CASE WHEN me.dispatched_at IS NULL THEN (${order === 'fair' ? FAIR_PENDING_AHEAD : FIFO_PENDING_AHEAD}) ELSE 0 END
                AS "pendingAhead",
              (SELECT count(*)::int FROM jobs j
                WHERE j.started_at IS NOT NULL AND j.job_type[1] = me.queue AND j.attempts > 0
                  AND j.started_at >= now() - make_interval(secs => $2)) AS "startedRecently",
              coalesce((SELECT paused FROM queue_states WHERE name = me.queue), false) AS paused
         FROM me`,
      [jobId, THROUGHPUT_WINDOW_SECONDS],
    )) as StandingRow[];
    if (!row) return null;
    const { queue, ...standing } = row;
    if (standing.dispatched || order === 'fifo') return { ...standing, otherLaneAhead: 0 };
    const limit = otherLaneLimit(standing.lane, standing.pendingAhead);
    if (limit === 0) return { ...standing, otherLaneAhead: 0 };
    const [{ count }] = (await this.dataSource.query(
      `SELECT count(*)::int AS count FROM (
         SELECT 1 FROM jobs WHERE status = 'queued' AND dispatched_at IS NULL AND job_type[1] = $1 AND lane = $2 LIMIT $3
       ) other_lane`,
      [queue, standing.lane === JOB_LANE.bulk ? JOB_LANE.interactive : JOB_LANE.bulk, Number.isFinite(limit) ? limit : null],
    )) as { count: number }[];
    return { ...standing, otherLaneAhead: count };
  }
}
