/** Where a job is in its life: the `status` of a job row, and what the index's `status` filter takes. */
export const JOB_STATUS = {
  queued: 'queued',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;

export type JobState = (typeof JOB_STATUS)[keyof typeof JOB_STATUS];
export const JOB_STATES: readonly JobState[] = Object.values(JOB_STATUS);

/** A queued job's lane: workers take `interactive` work first, and `bulk` work keeps BULK_SHARE (docs/queues.md). */
export const JOB_LANE = {
  interactive: 'interactive',
  bulk: 'bulk',
} as const;

export type JobLane = (typeof JOB_LANE)[keyof typeof JOB_LANE];
export const JOB_LANES: readonly JobLane[] = Object.values(JOB_LANE);
