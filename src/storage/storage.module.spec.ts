import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/app-config';
import { LocalStorageDriver } from './local-storage.driver';
import { S3StorageDriver } from './s3-storage.driver';
import { createStorageDriver } from './storage.module';

/* The driver each setting makes; test/storage-identity.e2e-spec.ts checks it against the installation. */
describe('createStorageDriver', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'storage-module-'));
  });

  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('stores under DATA_DIR/files by default', async () => {
    const { driver, configured } = createStorageDriver(loadConfig({ DATA_DIR: dataDir }));

    expect(driver).toBeInstanceOf(LocalStorageDriver);
    expect(configured).toEqual({ kind: 'local', location: null, describe: join(dataDir, 'files') });
    await driver.put('originals/a.jpg', Buffer.from('x'), 'image/jpeg');
    expect(await readdir(join(dataDir, 'files', 'originals'))).toEqual(['a.jpg']);
  });

  it('uses S3 when STORAGE=s3, and names the bucket as the store', () => {
    const { driver, configured } = createStorageDriver(
      loadConfig({ DATA_DIR: dataDir, STORAGE: 's3', S3_BUCKET: 'darkroom', S3_ENDPOINT: 'http://127.0.0.1:9000' }),
    );

    expect(driver).toBeInstanceOf(S3StorageDriver);
    expect(configured).toEqual({ kind: 's3', location: 'darkroom', describe: 's3://darkroom' });
  });
});
