/**
 * The channel on which the `jobs` trigger announces each change it records (migration
 * JobEventOutbox): the API's event streams and the workers' webhook dispatcher both listen to it.
 */
export const JOB_EVENTS_CHANNEL = 'darkroom_job_events';

/**
 * One notice: the `job_events` row (without `data` when the event would not fit in a notice), and
 * the webhook delivery the same change recorded, if any.
 */
export interface JobEventNotice {
  id: string | number;
  job_id: number;
  user_id: number;
  type: string;
  delivery: string | null;
  data?: Record<string, unknown>;
}
