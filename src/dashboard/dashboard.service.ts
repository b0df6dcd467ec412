import { Injectable } from '@nestjs/common';
import { Principal } from '../identity/principal';
import { within } from '../common/within';
import { Job } from '../job-runs/job.entity';
import { JobsService } from '../jobs/jobs.service';
import { JOB_STATES, JOB_STATUS, JobLane, JobState } from '../pipelines/job-states';
import { PipelineKind } from '../pipelines/job-sequence';
import { JobQueue, QueueEntryCounts } from '../job-runs/job-queue';
import { QUEUE_NAMES } from '../job-runs/queue-names';
import { QueuesService, QueueView } from '../queues/queues.service';
import { SessionsService } from '../sessions/sessions.service';
import { DashboardRepository, JobSummary } from './dashboard.repository';

/** How many jobs each list of the page shows, the most recent first. */
export const LISTED_JOBS = 50;

/** How long the page waits for a queue's counts before it shows that queue as unavailable. */
export const QUEUE_COUNTS_TIMEOUT_MS = 3000;

export const RETRYABLE: JobState[] = [JOB_STATUS.failed, JOB_STATUS.cancelled];
export const CANCELLABLE: JobState[] = [JOB_STATUS.queued, JOB_STATUS.running];

export interface QueueOverview {
  name: PipelineKind;
  /** What BullMQ holds, or null when the queue's backend did not answer (then `entriesError` says why). */
  entries: QueueEntryCounts | null;
  entriesError: string | null;
  /** The jobs table's count of this queue's jobs in each state. */
  jobs: Record<JobState, number>;
  /** Paused by an admin: its jobs wait, queued, until it is resumed. */
  paused: boolean;
  /** Queued jobs not yet given a queue entry, by lane, and those given one that no worker has started. */
  pendingByLane: Record<JobLane, number>;
  dispatched: number;
  concurrencyCap: number | null;
}

export interface DashboardView {
  viewer: { id: number | null; username: string | null };
  queues: QueueOverview[];
  ended: { jobs: JobSummary[]; total: number };
  inProgress: { jobs: JobSummary[]; total: number };
}

const ACTION = 'use the queue dashboard';

/** The admin queue dashboard: what it shows, and its actions, which are the job core's own. */
@Injectable()
export class DashboardService {
  constructor(
    private readonly rows: DashboardRepository,
    private readonly queue: JobQueue,
    private readonly jobs: JobsService,
    private readonly sessions: SessionsService,
    private readonly queues: QueuesService,
  ) {}

  async overview(principal: Principal): Promise<DashboardView> {
    principal.requireAdmin(ACTION);
    const [counts, states, entries, ended, inProgress, username] = await Promise.all([
      this.rows.countsByQueueAndStatus(),
      this.queues.findAll(principal),
      Promise.all(QUEUE_NAMES.map((name) => this.entryCounts(name))),
      this.rows.listByStatus(RETRYABLE, LISTED_JOBS),
      this.rows.listByStatus(CANCELLABLE, LISTED_JOBS),
      principal.userId === null ? null : this.rows.usernameOf(principal.userId),
    ]);
    const queues = QUEUE_NAMES.map((name, index): QueueOverview => {
      const jobs = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as Record<JobState, number>;
      for (const row of counts) if (row.queue === name) jobs[row.status] = row.count;
      return { name, entries: entries[index].figures, entriesError: entries[index].error, jobs, ...stateOf(states, name) };
    });
    const total = (states: JobState[]) => queues.reduce((sum, queue) => sum + states.reduce((n, state) => n + queue.jobs[state], 0), 0);
    return {
      viewer: { id: principal.userId, username },
      queues,
      ended: { jobs: ended, total: total(RETRYABLE) },
      inProgress: { jobs: inProgress, total: total(CANCELLABLE) },
    };
  }

  /** A queue backend out of reach leaves its figures blank, saying why; the page still shows the database's. */
  private entryCounts(name: PipelineKind): Promise<{ figures: QueueEntryCounts | null; error: string | null }> {
    return within(this.queue.counts(name), QUEUE_COUNTS_TIMEOUT_MS, `The ${name} queue`).then(
      (figures) => ({ figures, error: null }),
      (error: Error) => ({ figures: null, error: error.message }),
    );
  }

  retry(principal: Principal, id: number): Promise<Job> {
    principal.requireAdmin(ACTION);
    return this.jobs.retry(principal, id);
  }

  cancel(principal: Principal, id: number): Promise<Job> {
    principal.requireAdmin(ACTION);
    return this.jobs.cancel(principal, id);
  }

  pause(principal: Principal, name: string): Promise<QueueView> {
    principal.requireAdmin(ACTION);
    return this.queues.pause(principal, name);
  }

  resume(principal: Principal, name: string): Promise<QueueView> {
    principal.requireAdmin(ACTION);
    return this.queues.resume(principal, name);
  }

  /** Ends the session the request came with (ADMIN_TOKEN has none to end). */
  async signOut(principal: Principal): Promise<void> {
    if (principal.sessionId !== null) await this.sessions.end(principal, principal.sessionId);
  }
}

function stateOf(
  states: QueueView[],
  name: PipelineKind,
): Pick<QueueOverview, 'paused' | 'pendingByLane' | 'dispatched' | 'concurrencyCap'> {
  const state = states.find((queue) => queue.name === name);
  if (!state) return { paused: false, pendingByLane: { interactive: 0, bulk: 0 }, dispatched: 0, concurrencyCap: null };
  return { paused: state.paused, pendingByLane: state.pendingByLane, dispatched: state.waiting, concurrencyCap: state.concurrencyCap };
}
