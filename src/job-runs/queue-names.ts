import type { PipelineKind } from '../pipelines/job-sequence';

/** One queue per pipeline kind, as the kiosk seed gives each kind of event its own queue. */
export const QUEUE_NAMES: readonly PipelineKind[] = ['process', 'query', 'search'];

/** What a queue entry carries: which job, and which of its deliveries. The row holds everything else. */
export interface QueuedJobData {
  jobId: number;
  deliveryId: string;
}

/**
 * A queue entry is named by its job and delivery: a retried or requeued job gets a new entry, and
 * an entry that outlived its delivery (finished, or restored from an older backup) never blocks
 * the add. BullMQ refuses integer-like ids and ids with ':'.
 */
export function queueEntryId(jobId: number, deliveryId: string): string {
  return `job-${jobId}-${deliveryId}`;
}
