import { BeforeApplicationShutdown, Injectable, Logger, Module } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { AdvisoryLock } from '../database/advisory-locks';
import type { PipelineKind } from '../pipelines/job-sequence';
import { JOB_LANE } from '../pipelines/job-states';
import { dispatchOrder, PendingJob, UserInFlight } from './dispatch-order';
import { Deliverable, JobQueue } from './job-queue';
import { QUEUE_NAMES } from './queue-names';
import { QueueStateRepository } from './queue-state.repository';

/**
 * Entries a queue keeps waiting for its workers, at least, and as many as it has jobs running:
 * enough that a worker finishing a job finds the next one at once, few enough that a job
 * dispatched now starts after about one run of the jobs ahead of it.
 */
const MIN_WAITING = 4;
/** On QUEUE_ORDER=fifo, pending jobs are dispatched this many at a time, until none is left. */
const FIFO_ROUND = 1000;

interface QueueLoad {
  name: PipelineKind;
  paused: boolean;
  running: number;
  in_flight: number;
  bulk: number;
}

const IN_FLIGHT = `(status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL))`;
const PENDING = `status = 'queued' AND dispatched_at IS NULL`;
const DUE = `(run_after IS NULL OR run_after <= now())`;

/**
 * Gives queued jobs their queue entries, a few at a time, in the order fairness asks for
 * (dispatchOrder; docs/queues.md). The jobs' rows are the truth: a job is pending until a pass
 * marks it dispatched, with a new delivery id, and adds its entry. Passes run in any process (the
 * API after a creation, a worker after each claim, the reconciler every RECONCILE_INTERVAL),
 * one at a time under a transaction lock, each reading the state the last one committed. An entry
 * lost after its pass committed (the process died, the queue's store was wiped) is added again by
 * the reconciler, which sees a dispatched job the queue does not hold.
 */
@Injectable()
export class JobDispatcher implements BeforeApplicationShutdown {
  private readonly logger = new Logger(JobDispatcher.name);
  private passes: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly wakeUps = new Set<NodeJS.Timeout>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly queue: JobQueue,
    private readonly config: AppConfig,
  ) {}

  /** A worker took a job from the queue: on QUEUE_ORDER=fair, room for the next entry. */
  jobClaimed(): void {
    if (this.config.QUEUE_ORDER === 'fair' || this.capped()) this.dispatchSoon();
  }

  /** A job's attempt ended: under a cap, what lets the next job be dispatched. */
  attemptEnded(): void {
    if (this.capped()) this.dispatchSoon();
  }

  /**
   * A pass soon, in the background: after anything that may let a pending job start. Calls
   * while one runs make one more pass after it, which reads what they committed.
   */
  dispatchSoon(): void {
    if (this.stopped) return;
    if (this.passes) {
      this.again = true;
      return;
    }
    this.passes = this.runPasses().finally(() => (this.passes = null));
  }

  /** A pass once `delayMs` has passed: a retry's backoff ends. */
  dispatchAfter(delayMs: number): void {
    const timer = setTimeout(() => {
      this.wakeUps.delete(timer);
      this.dispatchSoon();
    }, delayMs);
    timer.unref();
    this.wakeUps.add(timer);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of this.wakeUps) clearTimeout(timer);
    await this.passes;
  }

  /** One pass over every queue not paused; the number of jobs dispatched. */
  async dispatch(): Promise<number> {
    let dispatched = 0;
    for (;;) {
      const jobs = await this.dataSource.transaction(async (manager) => {
        // A pass's statements take a millisecond; their estimates, over a large jobs table, can pass
        // jit_above_cost, and compiling them took 200 ms.
        await manager.query(`SELECT pg_advisory_xact_lock($1), set_config('jit', 'off', true)`, [AdvisoryLock.JobDispatch]);
        const chosen: Deliverable[] = [];
        for (const load of await this.loads(manager)) if (!load.paused) chosen.push(...(await this.dispatchQueue(manager, load)));
        return chosen;
      });
      dispatched += jobs.length;
      if (jobs.length > 0) {
        await this.queue.enqueueMany(jobs).catch((error: Error) => {
          this.logger.warn(`${jobs.length} dispatched job(s) are not yet queued (${error.message}); the reconciler will queue them`);
        });
      }
      if (this.config.QUEUE_ORDER === 'fair' || jobs.length < FIFO_ROUND) return dispatched;
    }
  }

  private async runPasses(): Promise<void> {
    do {
      this.again = false;
      await this.dispatch().catch((error: Error) =>
        this.logger.warn(`A dispatch pass failed (${error.message}); the next one, at the latest the reconciler's, makes up for it`),
      );
    } while (this.again && !this.stopped);
  }

  /** Each queue's pause and jobs in flight, in one statement. */
  private async loads(manager: EntityManager): Promise<QueueLoad[]> {
    return (await manager.query(
      `SELECT q.name, q.paused, coalesce(f.running, 0) AS running, coalesce(f.in_flight, 0) AS in_flight, coalesce(f.bulk, 0) AS bulk
         FROM queue_states q LEFT JOIN (
           SELECT job_type[1] AS name, count(*) FILTER (WHERE status = 'running')::int AS running, count(*)::int AS in_flight,
                  count(*) FILTER (WHERE lane = $1)::int AS bulk
             FROM jobs WHERE ${IN_FLIGHT} GROUP BY job_type[1]) f USING (name)
        ORDER BY q.name`,
      [JOB_LANE.bulk],
    )) as QueueLoad[];
  }

  private async dispatchQueue(manager: EntityManager, load: QueueLoad): Promise<Deliverable[]> {
    const { name } = load;
    const fair = this.config.QUEUE_ORDER === 'fair';
    let room = fair ? Math.max(MIN_WAITING, load.running) - (load.in_flight - load.running) : FIFO_ROUND;
    const cap = this.capOf(name);
    if (cap > 0) room = Math.min(room, cap - load.in_flight);
    if (room <= 0) return [];
    const pending = fair ? await this.oldestOfEachUser(manager, name, room) : await this.oldest(manager, name, room);
    if (pending.length === 0) return [];
    const userCap = this.config.USER_CONCURRENCY;
    const users = fair || userCap > 0 ? await this.usersInFlight(manager, name, [...new Set(pending.map((job) => job.userId))]) : new Map();
    const chosen = fair
      ? dispatchOrder(pending, room, { queue: load.in_flight, bulk: load.bulk }, users, {
          bulkShare: this.config.BULK_SHARE / 100,
          userCap,
        })
      : withinUserCap(pending, users, userCap);
    return this.markDispatched(manager, chosen);
  }

  /** Each user's `limit` oldest due pending jobs of each lane, the users found by a skip scan of jobs_pending_idx. */
  private async oldestOfEachUser(manager: EntityManager, name: PipelineKind, limit: number): Promise<PendingJob[]> {
    return (await manager.query(
      `WITH RECURSIVE waiting AS (
         (SELECT lane, user_id FROM jobs WHERE job_type[1] = $1 AND ${PENDING} ORDER BY job_type[1], lane, user_id LIMIT 1)
         UNION ALL
         SELECT next.lane, next.user_id FROM waiting, LATERAL (
           SELECT lane, user_id FROM jobs
            WHERE job_type[1] = $1 AND ${PENDING} AND (lane, user_id) > (waiting.lane, waiting.user_id)
            ORDER BY job_type[1], lane, user_id LIMIT 1) next
       )
       SELECT j.id, waiting.user_id AS "userId", waiting.lane
         FROM waiting, LATERAL (
           SELECT id FROM jobs
            WHERE job_type[1] = $1 AND ${PENDING} AND lane = waiting.lane AND user_id = waiting.user_id AND ${DUE}
            ORDER BY job_type[1], lane, user_id, id LIMIT $2) j`,
      [name, limit],
    )) as PendingJob[];
  }

  private async oldest(manager: EntityManager, name: PipelineKind, limit: number): Promise<PendingJob[]> {
    return (await manager.query(
      `SELECT id, user_id AS "userId", lane FROM jobs WHERE job_type[1] = $1 AND ${PENDING} AND ${DUE} ORDER BY id LIMIT $2`,
      [name, limit],
    )) as PendingJob[];
  }

  /** Each user's jobs in flight, and their last dispatch in the queue, finished jobs included: a user served a moment ago waits for the others. */
  private async usersInFlight(manager: EntityManager, name: PipelineKind, userIds: number[]): Promise<Map<number, UserInFlight>> {
    const rows = (await manager.query(
      `SELECT u.user_id,
              (SELECT count(*) FROM jobs WHERE user_id = u.user_id AND job_type[1] = $2 AND ${IN_FLIGHT})::int AS queue,
              (SELECT count(*) FROM jobs WHERE user_id = u.user_id AND ${IN_FLIGHT})::int AS all,
              coalesce((SELECT extract(epoch FROM max(dispatched_at)) * 1000 FROM jobs
                         WHERE user_id = u.user_id AND job_type[1] = $2 AND dispatched_at IS NOT NULL), 0)::float8 AS last_dispatch
         FROM unnest($1::int[]) AS u(user_id)`,
      [userIds, name],
    )) as { user_id: number; queue: number; all: number; last_dispatch: number }[];
    return new Map(rows.map((row) => [row.user_id, { queue: row.queue, all: row.all, lastDispatch: row.last_dispatch }]));
  }

  private async markDispatched(manager: EntityManager, jobs: PendingJob[]): Promise<Deliverable[]> {
    if (jobs.length === 0) return [];
    const [rows] = (await manager.query(
      `UPDATE jobs SET dispatched_at = now(), run_after = NULL, delivery_id = gen_random_uuid()
         FROM unnest($1::int[]) WITH ORDINALITY AS chosen(id, ord)
        WHERE jobs.id = chosen.id AND jobs.${PENDING}
       RETURNING jobs.id, jobs.delivery_id, jobs.job_type, chosen.ord`,
      [jobs.map((job) => job.id)],
    )) as [{ id: number; delivery_id: string; job_type: string[]; ord: string }[], number];
    return rows
      .sort((a, b) => Number(a.ord) - Number(b.ord))
      .map((row) => ({ id: row.id, deliveryId: row.delivery_id, jobType: row.job_type }));
  }

  private capped(): boolean {
    return this.config.USER_CONCURRENCY > 0 || QUEUE_NAMES.some((name) => this.capOf(name) > 0);
  }

  private capOf(name: PipelineKind): number {
    return this.config[`QUEUE_CONCURRENCY_${name}`];
  }
}

/** QUEUE_ORDER=fifo: creation order, but USER_CONCURRENCY still holds. */
function withinUserCap(pending: PendingJob[], users: Map<number, UserInFlight>, userCap: number): PendingJob[] {
  if (userCap === 0) return pending;
  const inFlight = new Map([...users].map(([userId, counts]) => [userId, counts.all]));
  return pending.filter((job) => {
    const count = inFlight.get(job.userId) ?? 0;
    if (count >= userCap) return false;
    inFlight.set(job.userId, count + 1);
    return true;
  });
}

/** The dispatcher and what it reads, for the API, the worker and the injector's command. */
@Module({
  providers: [JobDispatcher, QueueStateRepository],
  exports: [JobDispatcher, QueueStateRepository],
})
export class JobDispatchModule {}
