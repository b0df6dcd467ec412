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
