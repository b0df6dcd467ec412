import type { EntityManager } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { invalidField } from '../pipelines/invalid-input.error';
import { QuotaExceededError } from '../common/quota-exceeded.error';
import { countJobsInProgress, lockStorage, readStorage, StorageRow } from './quota.repository';

/**
 * Quotas per user, shared by the API (job creation and retry, uploads) and the worker (outputs).
 * Each check runs inside the transaction (for job creation, the statement) that makes the change,
 * so that what it read still holds when the change commits. They throw QuotaExceededError, which
 * the API answers with 429 (jobs) or 413 (storage) and the worker turns into a fatal error of the
 * job. How they stay exact without a hot row: docs/counters.md.
 */
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

/**
 * What reserve_job_slots (migrations/1796700000002-UsageDeltas.ts) answers for one owner of jobs
 * to create or retry. It locks the owners' users rows in id order, then counts their queued and
 * running jobs in a statement of its own: in READ COMMITTED that statement sees every job the
 * lock's previous holders committed. No trigger of a job's or an image's writes touches a user's
 * row any more (only job creations, retries, an admin's change of the user and the counters' fold
 * do, briefly), so the check never waits on a worker's transaction. Creation and retry are the
 * only ways a job becomes queued or running other than moving between the two (an admin's
 * injection skips the quota on purpose), so the limit holds exactly, under any concurrency, as long
 * as the caller inserts or re-queues the granted jobs in the statement that called it.
 */
export interface JobSlotGrant {
  user_id: number;
  /** False for a user that does not exist (an admin naming a user_id): nothing granted. */
  known: boolean;
  used: number;
  job_limit: number;
  /** How many of the wanted jobs fit: the first `granted` may be inserted. */
  granted: number;
}

/**
 * The error for a job refused after `accepted` of its owner's were granted, worded as a single
 * refusal: QuotaExceededError, or InvalidInputError for a user that does not exist.
 */
export function jobSlotRefusal(grant: JobSlotGrant, accepted: number): Error {
  if (!grant.known) return invalidField('user_id', `user_id ${grant.user_id} does not name an existing user`);
  return new QuotaExceededError(
    'jobs',
    `Too many jobs in progress: ${grant.used + accepted} of ${grant.job_limit} queued or running; wait for some to finish`,
  );
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
  const row = await readStorage(manager, userId);
  if (!row) return;
  const { used, limit } = storageOf(row, defaults);
  if (declaredBytes === null ? used >= limit : used - freedBytes + declaredBytes > limit) {
    throw new QuotaExceededError(
      'storage',
      storageExceededMessage(used, limit, declaredBytes === null ? null : `this file takes ${declaredBytes} more`),
    );
  }
}

/**
 * The exact check, in the transaction that has just recorded a file of `userId`, `addedBytes` net
 * (the new file's size less that of a file it replaced): throws, which rolls the record back, when
 * the user's stored bytes now pass the limit. lock_user_storage (migrations/1796700000002-UsageDeltas.ts)
 * first locks the user's row of user_storage_locks until the transaction ends, then sums the
 * user's bytes in a statement of its own, which sees every write committed before the lock was
 * granted and this transaction's own. Every write that adds bytes calls this after writing, so
 * they take turns and each reads the total including every one committed before: the limit holds
 * exactly. Nothing else takes that lock: not job creations, nor the writes that free bytes (a
 * change that frees bytes, or keeps them, is never refused, and never waits).
 */
export async function assertStorageAfterWrite(
  manager: EntityManager,
  userId: number,
  defaults: QuotaDefaults,
  addedBytes: number,
  what: string,
): Promise<void> {
  if (addedBytes <= 0) return;
  const row = await lockStorage(manager, userId);
  if (!row) return;
  const { used, limit } = storageOf(row, defaults);
  if (used > limit) {
    throw new QuotaExceededError('storage', storageExceededMessage(used - addedBytes, limit, `${what} takes ${addedBytes} more`));
  }
}

function storageOf(row: StorageRow, defaults: QuotaDefaults): { used: number; limit: number } {
  return {
    used: Number(row.storage_bytes),
    limit: row.max_storage_bytes === null ? defaults.storageBytes : Number(row.max_storage_bytes),
  };
}

const STORAGE_EXCEEDED = 'Storage quota exceeded: ';

export function storageExceededMessage(used: number, limit: number, need: string | null): string {
  return `${STORAGE_EXCEEDED}${used} of ${limit} bytes used${need ? `, and ${need}` : ''}`;
}

/** Whether a failed job's error is its owner's full storage (the worker fails the job with storageExceededMessage). */
export function isStorageExceeded(jobError: string | null): boolean {
  return jobError?.startsWith(STORAGE_EXCEEDED) ?? false;
}

/** What GET /api/users/:id shows: the user's usage and effective limits. */
export async function quotaUsageOf(
  manager: EntityManager,
  user: { id: number; storageBytesNow: number; maxJobsInProgress: number | null; maxStorageBytes: number | null },
  defaults: QuotaDefaults,
): Promise<QuotaUsage> {
  const count = await countJobsInProgress(manager, user.id);
  return {
    usage: { jobs_in_progress: count, storage_bytes: user.storageBytesNow },
    limits: {
      jobs_in_progress: user.maxJobsInProgress ?? defaults.jobsInProgress,
      storage_bytes: user.maxStorageBytes ?? defaults.storageBytes,
    },
  };
}
