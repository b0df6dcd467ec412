import { JOB_LANE, type JobLane } from '../pipelines/job-states';

/** A pending job the dispatcher may give a queue entry. */
export interface PendingJob {
  id: number;
  userId: number;
  lane: JobLane;
}

/** Jobs in flight (running, or dispatched and waiting for a worker). */
export interface InFlight {
  /** In the queue being dispatched. */
  queue: number;
  /** Of those, in its bulk lane. */
  bulk: number;
}

/** One user's jobs in flight: in the queue being dispatched, and in every queue (for USER_CONCURRENCY). */
export interface UserInFlight {
  queue: number;
  all: number;
  /** When the user's last job in the queue was dispatched, finished or not (epoch ms; 0: never). */
  lastDispatch: number;
}

export interface DispatchRules {
  /** The share of the queue's jobs in flight kept for bulk work whenever some is pending, 0–1. */
  bulkShare: number;
  /** The most jobs of one user in flight across every queue; 0: no cap. */
  userCap: number;
}

/**
 * Which of `pending` get the next `room` queue entries, in order. Interactive work goes first,
 * except that bulk work, whenever some is pending, is given an entry whenever that keeps its part
 * of what is in flight within `bulkShare`, so that a backlog always drains. Within a lane users
 * take turns: the next entry goes to the user with the fewest jobs in flight in the queue (a
 * max-min fair share of the workers' slots), ties to the user served longest ago, then to the one
 * whose oldest pending job is the oldest; a user's jobs go in id order, so a job queued again (a retry, a requeue after a crash) keeps its place among its
 * user's jobs without jumping ahead of anyone else's. Pure: `pending` is each user's oldest jobs
 * of each lane, in any order.
 */
export function dispatchOrder(
  pending: readonly PendingJob[],
  room: number,
  inFlight: InFlight,
  users: ReadonlyMap<number, UserInFlight>,
  rules: DispatchRules,
): PendingJob[] {
  const lanes = new Map<JobLane, Map<number, PendingJob[]>>([
    [JOB_LANE.interactive, new Map()],
    [JOB_LANE.bulk, new Map()],
  ]);
  for (const job of [...pending].sort((a, b) => a.id - b.id)) {
    const byUser = lanes.get(job.lane)!;
    const jobs = byUser.get(job.userId);
    if (jobs) jobs.push(job);
    else byUser.set(job.userId, [job]);
  }
  const load = new Map([...users].map(([userId, counts]) => [userId, { ...counts }]));
  const loadOf = (userId: number) => load.get(userId) ?? load.set(userId, { queue: 0, all: 0, lastDispatch: 0 }).get(userId)!;
  let clock = Math.max(0, ...[...users.values()].map((user) => user.lastDispatch));
  const ready = (lane: JobLane) =>
    [...lanes.get(lane)!].filter(([userId, jobs]) => jobs.length > 0 && (rules.userCap === 0 || loadOf(userId).all < rules.userCap));
  let { queue: total, bulk } = inFlight;
  const order: PendingJob[] = [];
  while (order.length < room) {
    const interactive = ready(JOB_LANE.interactive);
    const bulkReady = ready(JOB_LANE.bulk);
    const takeBulk = bulkReady.length > 0 && (interactive.length === 0 || bulk + 1 <= rules.bulkShare * (total + 1));
    const candidates = takeBulk ? bulkReady : interactive;
    if (candidates.length === 0) break;
    const [userId, jobs] = candidates.reduce((best, next) =>
      servedBefore(loadOf(next[0]), next[1], loadOf(best[0]), best[1]) ? next : best,
    );
    order.push(jobs.shift()!);
    const user = loadOf(userId);
    user.queue++;
    user.all++;
    user.lastDispatch = ++clock;
    total++;
    if (takeBulk) bulk++;
  }
  return order;
}

/** Whether user `a`, with pending jobs `aJobs`, has the next turn before user `b`. */
function servedBefore(a: UserInFlight, aJobs: PendingJob[], b: UserInFlight, bJobs: PendingJob[]): boolean {
  if (a.queue !== b.queue) return a.queue < b.queue;
  if (a.lastDispatch !== b.lastDispatch) return a.lastDispatch < b.lastDispatch;
  return aJobs[0].id < bJobs[0].id;
}
