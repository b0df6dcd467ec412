import { Test } from '@nestjs/testing';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { LocalStorageDriver } from './local-storage.driver';
import { S3StorageDriver } from './s3-storage.driver';
import { StorageDriver } from './storage.driver';
import { StorageModule } from './storage.module';

async function driverFor(env: NodeJS.ProcessEnv): Promise<StorageDriver> {
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(loadConfig(env)), StorageModule],
  }).compile();
  return moduleRef.get(StorageDriver);
}

describe('StorageModule', () => {
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'storage-module-'));
  });

  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('stores under DATA_DIR/files by default', async () => {
    const driver = await driverFor({ DATA_DIR: dataDir });

    expect(driver).toBeInstanceOf(LocalStorageDriver);
    await driver.put('originals/a.jpg', Buffer.from('x'), 'image/jpeg');
    expect(await readdir(join(dataDir, 'files', 'originals'))).toEqual(['a.jpg']);
  });

  it('uses S3 when STORAGE=s3', async () => {
    const driver = await driverFor({
      DATA_DIR: dataDir,
      STORAGE: 's3',
      S3_BUCKET: 'darkroom',
      S3_ENDPOINT: 'http://127.0.0.1:9000',
    });

    expect(driver).toBeInstanceOf(S3StorageDriver);
  });
});
