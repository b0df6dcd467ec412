import { JOB_LANE, type JobLane } from '../pipelines/job-states';

/** The window over which a queue's throughput is measured for the estimate. */
export const THROUGHPUT_WINDOW_SECONDS = 60;

/** What the database says of a queued job's place (QueueStandingRepository). */
export interface QueueStanding {
  lane: JobLane;
  /** The job has its queue entry: only the entries before it start first. */
  dispatched: boolean;
  /**
   * Dispatched jobs not yet running that start first: for a dispatched job, those dispatched
   * before it; for a pending one, all of them.
   */
  dispatchedAhead: number;
  /**
   * A pending job only: the pending jobs the dispatcher takes before it (with QUEUE_ORDER=fair,
   * those of its own lane the user turns take first; with fifo, every pending job of the queue
   * with a smaller id).
   */
  pendingAhead: number;
  /** A pending job only: the pending jobs of the other lane that go first (otherLaneLimit caps the count). */
  otherLaneAhead: number;
  /** Jobs of the queue that started in the last THROUGHPUT_WINDOW_SECONDS. */
  startedRecently: number;
  paused: boolean;
  /** A retry's backoff: the job waits at least until then. */
  runAfter: Date | null;
}

export interface QueueWait {
  ahead: number;
  estimatedStartAt: Date | null;
}

/**
 * How many pending jobs of the other lane may be dispatched before a pending job that has
 * `pendingAhead` jobs before it in its own lane (Infinity: all of them). The dispatcher gives bulk
 * about BULK_SHARE percent of the dispatches while both lanes wait: s of every dispatch, so about
 * s/(1-s) bulk jobs go out per interactive one, and (1-s)/s interactive per bulk one. BULK_SHARE=0
 * lets bulk go only when no interactive work waits; 100 lets interactive go only when no bulk waits.
 */
export function otherLaneLimit(lane: JobLane, pendingAhead: number, bulkSharePercent: number): number {
  const share = bulkSharePercent / 100;
  const [mine, theirs] = lane === JOB_LANE.bulk ? [share, 1 - share] : [1 - share, share];
  if (theirs === 0) return 0;
  if (mine === 0) return Infinity;
  return Math.round((pendingAhead * theirs) / mine);
}

/**
 * Where a queued job stands: `ahead`, roughly how many jobs of its queue start before it, and when
 * it may start, at the rate the queue's jobs started over the last minute. No estimate (null)
 * while its queue is paused, or when nothing started in the last minute: a rate of zero says
 * nothing honest about when work resumes. A retry's backoff is a floor. It is an estimate: jobs
 * created later may pass it in the user turns, jobs ending or being cancelled move it forward, and
 * USER_CONCURRENCY is not counted.
 */
export function queueWait(standing: QueueStanding, now: Date): QueueWait {
  const ahead = standing.dispatched ? standing.dispatchedAhead : standing.dispatchedAhead + standing.pendingAhead + standing.otherLaneAhead;
  if (standing.paused || standing.startedRecently === 0) return { ahead, estimatedStartAt: null };
  const seconds = (ahead * THROUGHPUT_WINDOW_SECONDS) / standing.startedRecently;
  const estimate = new Date(now.getTime() + Math.round(seconds * 1000));
  const floor = standing.runAfter;
  return { ahead, estimatedStartAt: floor !== null && floor > estimate ? floor : estimate };
}
