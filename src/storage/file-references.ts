import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { StorageDriver } from './storage.driver';
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

/**
 * Stored files shared by several images (a reused step's output points at the file of the step it
 * repeats): a file is deleted from storage with the last image that points at it.
 */
@Injectable()
export class FileReferences {
  private readonly logger = new Logger(FileReferences.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly storage: StorageDriver,
  ) {}

  /**
   * Deletes each file of `keys` that no image points at any more; call it once the rows that
   * pointed at them are deleted. A failed delete leaves a harmless orphan and is only logged.
   */
  async release(keys: Iterable<string>): Promise<void> {
    for (const key of new Set(keys)) {
      try {
        const unreferenced = await this.dataSource.transaction(async (manager) => {
          await lockFileReferences(manager, [key]);
          return !(await isFileReferenced(manager, key));
        });
        if (unreferenced) await this.storage.delete(key);
      } catch (error) {
        this.logger.warn(`Could not delete ${key}: ${(error as Error).message}`);
      }
    }
  }
}
