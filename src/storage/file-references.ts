import { Injectable, Logger, Module } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { StorageDriver } from './storage.driver';
import { isFileReferenced, lockFileReferences } from './file-reference.repository';

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

/** FileReferences' one provider: the users and images resources import it. */
@Module({ providers: [FileReferences], exports: [FileReferences] })
export class FileReferencesModule {}
