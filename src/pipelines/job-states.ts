/** Where a job is in its life: the `status` of a job row, and what the index's `status` filter takes. */
export const JOB_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
