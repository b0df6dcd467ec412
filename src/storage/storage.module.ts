import { Global, Logger, Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { InstallationRepository } from '../database/installation.repository';
import { LocalStorageDriver } from './local-storage.driver';
import { S3StorageDriver } from './s3-storage.driver';
import { ConfiguredStorage, StorageUnreachableError, verifyStorageIdentity } from './storage-identity';
import { StorageDriver } from './storage.driver';

export function createStorageDriver(config: AppConfig): { driver: StorageDriver; configured: ConfiguredStorage } {
  if (config.STORAGE === 'local') {
    const root = join(config.DATA_DIR, 'files');
    return { driver: new LocalStorageDriver(root), configured: { kind: 'local', location: null, describe: root } };
  }
  if (!config.S3_BUCKET) {
    throw new Error('S3_BUCKET is required when STORAGE=s3');
  }
  const driver = new S3StorageDriver({
    bucket: config.S3_BUCKET,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
  });
  return { driver, configured: { kind: 's3', location: config.S3_BUCKET, describe: `s3://${config.S3_BUCKET}` } };
}

/**
 * Global so that uploads, the worker and downloads share one driver (and one S3 connection pool).
 * The driver is handed out only once the store is known to be the installation's: every provider
 * that reads or writes files (the processors among them) waits for the check, so a node with the
 * wrong store takes no request and no job.
 */
@Global()
@Module({
  providers: [
    {
      provide: StorageDriver,
      inject: [AppConfig, getDataSourceToken()],
      useFactory: async (config: AppConfig, dataSource: DataSource) => {
        const { driver, configured } = createStorageDriver(config);
        try {
          await verifyStorageIdentity(driver, new InstallationRepository(dataSource), configured);
        } catch (error) {
          if (!(error instanceof StorageUnreachableError)) throw error;
          new Logger('Storage').warn(`${error.message}; whose store it is will be checked at the next start (readiness reports it down)`);
        }
        return driver;
      },
    },
  ],
  exports: [StorageDriver],
})
export class StorageModule {}
