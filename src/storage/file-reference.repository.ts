import type { EntityManager } from 'typeorm';
import { AdvisoryLock } from '../database/advisory-locks';

/**
 * Takes, until the transaction ends, the locks that order everything which adds or drops a
 * reference to each stored file of `keys`. A file with no image left pointing at it never gains one
 * again (a new reference is only ever made from an existing one, under this lock), so once the
 * last reference is gone, deleting the file is safe.
 */
export async function lockFileReferences(manager: EntityManager, keys: string[]): Promise<void> {
  // One statement, the locks in the order of their keys: two transactions taking several never wait on each other in a cycle.
  await manager.query(
    'SELECT pg_advisory_xact_lock($1, lock_key) FROM (SELECT DISTINCT hashtext(key) AS lock_key FROM unnest($2::text[]) AS key ORDER BY 1) locks',
    [AdvisoryLock.StoredFile, keys],
  );
}

/** Whether an image still points at the stored file `key`; call it holding lockFileReferences. */
export async function isFileReferenced(manager: EntityManager, key: string): Promise<boolean> {
  return (await manager.query('SELECT 1 FROM images WHERE s3_key = $1 LIMIT 1', [key])).length > 0;
}
