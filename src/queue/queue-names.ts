import type { PipelineKind } from '../pipelines/job-sequence';

/** One queue per pipeline kind, as the kiosk seed gives each kind of event its own queue. */
export const QUEUE_NAMES: readonly PipelineKind[] = ['process', 'query', 'search'];

/** What a queued BullMQ job carries: the row in `jobs` holds everything else. */
export interface QueuedJobData {
  jobId: number;
}

/** BullMQ refuses integer-like custom ids; the job row's id names its one queue entry. */
export function queueJobId(jobId: number): string {
  return `job-${jobId}`;
}
