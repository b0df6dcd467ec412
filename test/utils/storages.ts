import { startS3Server } from '../../bench/s3-server';
import { availableBackends, type Backend } from './faults/cluster';
import type { TestEnv } from './test-app';

export type Storage = 'local' | 's3';

/** A suite's installation: a queue backend and where its files are kept. */
export interface Setup extends Backend {
  storage: Storage;
  /** Names the setup in test titles and suite databases. */
  label: string;
}

/**
 * Each queue backend with its files on local disk, and the PostgreSQL queue with them on S3
 * (s3rver): the storage driver and the queue never meet, so the third setup covers S3 for both.
 */
export function backendsAndStorages(): Setup[] {
  const setups: Setup[] = availableBackends().map((backend) => ({ ...backend, storage: 'local', label: `${backend.name}_local` }));
  setups.push({ name: 'postgres', storage: 's3', label: 'postgres_s3' });
  return setups;
}

/** What a suite's environment needs for `storage`: for S3, an s3rver of its own in this process, stopped by `stop`. */
export async function storageFor(storage: Storage, bucket: string): Promise<{ env: TestEnv; stop(): Promise<void> }> {
  if (storage === 'local') return { env: {}, stop: async () => undefined };
  const s3 = await startS3Server(bucket);
  return {
    env: { STORAGE: 's3', S3_BUCKET: bucket, S3_ENDPOINT: s3.endpoint, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' },
    stop: () => s3.stop(),
  };
}
