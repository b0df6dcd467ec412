/**
 * A worker holding a job renews its lock every 7.5 s; one that dies stops renewing, and within
 * about 15 s its job is stalled and handed to another worker.
 */
export const QUEUE_WORKER_OPTIONS = { lockDuration: 15_000, stalledInterval: 15_000, maxStalledCount: 3 };
