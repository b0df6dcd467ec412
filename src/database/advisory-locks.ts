import type { DataSource } from 'typeorm';

/**
 * Every PostgreSQL advisory lock Darkroom takes, by the id it takes it with. Each number is
 * fixed: every process of an installation (API, worker, migrations, CLI) must take the same one
 * for the same purpose, so a number is never reused nor changed while processes of an older
 * version may run. No SQL function of the migrations takes an advisory lock.
 *
 * Two kinds share the list. A single id (`pg_advisory_lock(id)`) is one lock. A class is the first
 * key of the two-key form (`pg_advisory_xact_lock(class, key)`), the second naming the thing
 * locked. PostgreSQL keeps the two kinds apart, but the ids stay distinct anyway, so that a
 * reader of pg_locks can tell them apart by number alone.
 */
export enum AdvisoryLock {
  /** Session lock: processes starting at once migrate one at a time (src/database/migrate.ts). */
  Migrations = 7_461_001,
  /** Session lock, tried: one process at a time reconciles the jobs with their queues (JobReconciler). */
  JobReconciler = 7_461_002,
  /** Transaction lock: sign-ups on an installation without ADMIN_TOKEN decide the first admin one at a time (UsersService). */
  FirstAdmin = 7_461_003,
  /** Session lock, tried: one worker at a time re-queues overdue webhook deliveries (WebhookDispatcher). */
  WebhookReconciler = 7_461_004,
  /** Session lock, tried: one worker at a time decodes unverified originals (ImageVerifier). */
  ImageVerifier = 7_461_005,
  /** Session lock: nodes starting at once check and write the file store's marker one at a time (storage-identity.ts). */
  StorageClaim = 7_461_006,
  /** Transaction lock: dispatch passes, from any process, pick the jobs that get queue entries one at a time (JobDispatcher). */
  JobDispatch = 7_461_007,
  /** Session lock, tried: one API process at a time deletes the expired resumable uploads (UploadExpiry). */
  UploadExpiry = 7_461_008,
  /** Session lock, tried: one worker at a time writes a snapshot of the histograms (HistogramCache). */
  HistogramSnapshot = 7_461_009,
  /** Class of transaction locks, second key a hash of the injection: the batches of one injection take turns (JobInjectorService). */
  JobInjection = 7_461_020,
  /** Class of session locks, second key the tus upload id's hashtext: one request at a time writes an upload, on any node (upload-locker.ts). */
  ResumableUpload = 7_461_021,
  /** Class of transaction locks, second key the stored file's key's hashtext: reference counts of stored files (file-references.ts). */
  StoredFile = 0x46494c45,
}

/**
 * Runs `work` holding session lock `lock`, on a connection of its own for the whole run, unless
 * another process holds it: then answers null at once, without waiting.
 */
export async function whileHolding<T>(dataSource: DataSource, lock: AdvisoryLock, work: () => Promise<T>): Promise<T | null> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [lock]);
    if (!locked) return null;
    try {
      return await work();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [lock]);
    }
  } finally {
    await runner.release();
  }
}
