import { Global, Module } from '@nestjs/common';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config';
import { LocalStorageDriver } from './local-storage.driver';
import { S3StorageDriver } from './s3-storage.driver';
import { StorageDriver } from './storage.driver';

function createStorageDriver(config: AppConfig): StorageDriver {
  if (config.STORAGE === 'local') {
    return new LocalStorageDriver(join(config.DATA_DIR, 'files'));
  }
  if (!config.S3_BUCKET) {
    throw new Error('S3_BUCKET is required when STORAGE=s3');
  }
  return new S3StorageDriver({
    bucket: config.S3_BUCKET,
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    accessKeyId: config.S3_ACCESS_KEY_ID,
    secretAccessKey: config.S3_SECRET_ACCESS_KEY,
  });
}

/** Global so that uploads, the worker and downloads share one driver (and one S3 connection pool). */
@Global()
@Module({
  providers: [{ provide: StorageDriver, inject: [AppConfig], useFactory: createStorageDriver }],
  exports: [StorageDriver],
})
export class StorageModule {}
