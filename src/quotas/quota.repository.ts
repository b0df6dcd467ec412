import type { EntityManager } from 'typeorm';
import { JOB_STATUS } from '../pipelines/job-states';

/**
 * The quotas' reads. Each takes the caller's manager: a check runs inside the transaction (for
 * job creation, the statement) that makes the change it checks (see quotas.ts).
 */

/** A user's stored bytes and own limit (null: the installation's default), as the database answers them. */
export interface StorageRow {
  storage_bytes: string;
  max_storage_bytes: string | null;
}

/** Queued or running, written as jobs_user_id_unfinished_idx's predicate so that the index serves the count. */
const IN_PROGRESS = `status IN ('${JOB_STATUS.queued}', '${JOB_STATUS.running}')`;

/** A user's stored bytes: the base in users plus the deltas not yet folded into it (docs/counters.md). */
const STORAGE_BYTES = `(u.storage_bytes + coalesce((SELECT sum(d.bytes) FROM user_usage_deltas d WHERE d.user_id = u.id), 0))::bigint`;

/** The user's stored bytes, without a lock; undefined for a user that does not exist. */
export async function readStorage(manager: EntityManager, userId: number): Promise<StorageRow | undefined> {
  const [row] = (await manager.query(`SELECT ${STORAGE_BYTES} AS storage_bytes, u.max_storage_bytes FROM users u WHERE u.id = $1`, [
    userId,
  ])) as StorageRow[];
  return row;
}

/**
 * lock_user_storage (migrations/1796700000002-UsageDeltas.ts): locks the user's row of
 * user_storage_locks until the transaction ends, then sums the user's bytes in a statement of its
 * own; undefined for a user that does not exist.
 */
export async function lockStorage(manager: EntityManager, userId: number): Promise<StorageRow | undefined> {
  const [row] = (await manager.query('SELECT storage_bytes, max_storage_bytes FROM lock_user_storage($1)', [userId])) as StorageRow[];
  return row;
}

/** How many of the user's jobs are queued or running. */
export async function countJobsInProgress(manager: EntityManager, userId: number): Promise<number> {
  const [{ count }] = (await manager.query(`SELECT count(*)::int AS count FROM jobs WHERE user_id = $1 AND ${IN_PROGRESS}`, [userId])) as {
    count: number;
  }[];
  return count;
}
