import type { EntityManager } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { invalidField } from '../common/invalid-input.error';
import { JOB_STATUS } from '../pipelines/job-states';

/**
 * Quotas per user, shared by the API (job creation and retry, uploads) and the worker (outputs).
 * Each check runs inside the transaction that makes the change, so that what it read still holds
 * when the change commits. They throw QuotaExceededError, which the API answers with 429 (jobs)
 * or 413 (storage) and the worker turns into a fatal error of the job.
 */
export class QuotaExceededError extends Error {
  constructor(
    readonly quota: 'jobs' | 'storage',
    message: string,
  ) {
    super(message);
    this.name = 'QuotaExceededError';
  }
}

export interface QuotaDefaults {
  jobsInProgress: number;
  storageBytes: number;
}

export function quotaDefaults(config: Pick<AppConfig, 'QUOTA_JOBS_IN_PROGRESS' | 'QUOTA_STORAGE_BYTES'>): QuotaDefaults {
  return { jobsInProgress: config.QUOTA_JOBS_IN_PROGRESS, storageBytes: config.QUOTA_STORAGE_BYTES };
}

export interface QuotaUsage {
  usage: { jobs_in_progress: number; storage_bytes: number };
  limits: { jobs_in_progress: number; storage_bytes: number };
}

/** First key of the two-key advisory locks that serialise a user's job creations and retries. */
const JOBS_QUOTA_LOCK = 7_461_011;

/** Queued or running, written as jobs_user_id_unfinished_idx's predicate so that the index serves the count. */
const IN_PROGRESS = `status IN ('${JOB_STATUS.queued}', '${JOB_STATUS.running}')`;

/**
 * Makes room for one more queued job of `userId`, or throws. Takes a transaction-scoped advisory
 * lock per user first, then counts (in READ COMMITTED each statement sees what committed before
 * it began, so after the lock it sees every job the previous holder inserted or re-queued). Every
 * path that adds a queued or running job — creation and retry — takes this lock; the others only
 * end jobs or move them between queued and running. So, as long as the caller inserts or
 * re-queues the job in the same transaction, the limit holds exactly, under any concurrency.
 */
export async function reserveJobSlot(manager: EntityManager, userId: number, defaults: QuotaDefaults): Promise<void> {
  const slots = await reserveJobSlots(manager, userId, defaults, 1);
  if (slots.granted < 1) throw slots.refusal(0);
}

export interface JobSlots {
  /** How many of the wanted jobs fit: the first `granted` may be inserted. */
  granted: number;
  /**
   * The error for a job refused after `accepted` of the batch were granted, worded as a single
   * refusal: QuotaExceededError, or InvalidInputError for a user that does not exist (an admin
   * naming a user_id), which would otherwise fail the INSERT of a whole batch on its foreign key.
   */
  refusal(accepted: number): Error;
}

/**
 * As reserveJobSlot, for up to `wanted` jobs of one user at once (a batch): one lock and one
 * count, granting as many as fit. The caller inserts the granted ones in the same transaction.
 */
export async function reserveJobSlots(manager: EntityManager, userId: number, defaults: QuotaDefaults, wanted: number): Promise<JobSlots> {
  await manager.query('SELECT pg_advisory_xact_lock($1, $2)', [JOBS_QUOTA_LOCK, userId]);
  const [row] = (await manager.query(
    `SELECT (SELECT count(*)::int FROM jobs WHERE user_id = $1 AND ${IN_PROGRESS}) AS used,
            (SELECT max_jobs_in_progress FROM users WHERE id = $1) AS max,
            EXISTS (SELECT 1 FROM users WHERE id = $1) AS known`,
    [userId],
  )) as { used: number; max: number | null; known: boolean }[];
  if (!row.known) return { granted: 0, refusal: () => invalidField('user_id', `user_id ${userId} does not name an existing user`) };
  const limit = row.max ?? defaults.jobsInProgress;
  return {
    granted: Math.max(0, Math.min(wanted, limit - row.used)),
    refusal: (accepted) =>
      new QuotaExceededError('jobs', `Too many jobs in progress: ${row.used + accepted} of ${limit} queued or running; wait for some to finish`),
  };
}

/**
 * The early check of an upload, before anything is stored: refused when the user's stored bytes
 * plus `declaredBytes` (less `freedBytes`, a file it would replace) pass the limit. With the size
 * unknown (null), refused only when the user is full already. Not exact under concurrency; the
 * exact check is assertStorageAfterWrite, when the file is recorded.
 */
export async function precheckStorage(
  manager: EntityManager,
  userId: number,
  defaults: QuotaDefaults,
  declaredBytes: number | null,
  freedBytes = 0,
): Promise<void> {
  const [row] = (await manager.query('SELECT storage_bytes, max_storage_bytes FROM users WHERE id = $1', [userId])) as StorageRow[];
  if (!row) return;
  const { used, limit } = storageOf(row, defaults);
  if (declaredBytes === null ? used >= limit : used - freedBytes + declaredBytes > limit) {
    throw new QuotaExceededError('storage', storageExceededMessage(used, limit, declaredBytes === null ? null : `this file takes ${declaredBytes} more`));
  }
}

/**
 * The exact check, in the transaction that has just recorded a file of `userId`, `addedBytes` net
 * (the new file's size less that of a file it replaced): throws, which rolls the record back, when
 * the user's stored bytes now pass the limit. The images trigger added those bytes to
 * users.storage_bytes with an UPDATE, which holds the user's row until the transaction ends, so
 * recordings of one user take turns and each reads the total including every one committed
 * before: the limit holds exactly. (A change that frees bytes, or keeps them, is never refused.)
 */
export async function assertStorageAfterWrite(
  manager: EntityManager,
  userId: number,
  defaults: QuotaDefaults,
  addedBytes: number,
  what: string,
): Promise<void> {
  if (addedBytes <= 0) return;
  const [row] = (await manager.query('SELECT storage_bytes, max_storage_bytes FROM users WHERE id = $1', [userId])) as StorageRow[];
  if (!row) return;
  const { used, limit } = storageOf(row, defaults);
  if (used > limit) {
    throw new QuotaExceededError('storage', storageExceededMessage(used - addedBytes, limit, `${what} takes ${addedBytes} more`));
  }
}

interface StorageRow {
  storage_bytes: string;
  max_storage_bytes: string | null;
}

function storageOf(row: StorageRow, defaults: QuotaDefaults): { used: number; limit: number } {
  return {
    used: Number(row.storage_bytes),
    limit: row.max_storage_bytes === null ? defaults.storageBytes : Number(row.max_storage_bytes),
  };
}

export function storageExceededMessage(used: number, limit: number, need: string | null): string {
  return `Storage quota exceeded: ${used} of ${limit} bytes used${need ? `, and ${need}` : ''}`;
}

/** What GET /api/users/:id shows: the user's usage and effective limits. */
export async function quotaUsageOf(
  manager: EntityManager,
  user: { id: number; storageBytes: number; maxJobsInProgress: number | null; maxStorageBytes: number | null },
  defaults: QuotaDefaults,
): Promise<QuotaUsage> {
  const [{ count }] = (await manager.query(`SELECT count(*)::int AS count FROM jobs WHERE user_id = $1 AND ${IN_PROGRESS}`, [
    user.id,
  ])) as { count: number }[];
  return {
    usage: { jobs_in_progress: count, storage_bytes: user.storageBytes },
    limits: {
      jobs_in_progress: user.maxJobsInProgress ?? defaults.jobsInProgress,
      storage_bytes: user.maxStorageBytes ?? defaults.storageBytes,
    },
  };
}
