import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { Installation } from '../src/database/installation.entity';
import { INSTALLATION_MARKER_KEY, StorageIdentityError } from '../src/storage/storage-identity';
import { WORKER_MAIN } from './utils/faults/processes';
import { S3RVER_CREDENTIALS, startS3Server } from '../bench/s3-server';
import { createSuiteDatabase } from './utils/suite-database';
import { api, createTestApp, startTestWorker, testEnv, TestEnv } from './utils/test-app';

/*
 * Issue 21: a node that cannot see the installation's files refuses to serve. The first process
 * records the store in the database and writes the installation id into it; a node configured
 * with another store, or whose store lacks that marker, fails at start naming the setting.
 */

const BUCKET = 'darkroom-identity';
const scratch = () => mkdtempSync(join(tmpdir(), 'darkroom-identity-'));

async function storageClaim(app: { get(token: typeof DataSource): DataSource }) {
  const [row] = await app.get(DataSource).getRepository(Installation).find();
  return { kind: row.storageKind, location: row.storageLocation };
}

/** The built worker, as `npm run start:worker` runs it: its exit code and what it printed. */
function runBuiltWorker(env: TestEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WORKER_MAIN], { env: { PATH: process.env.PATH, ...env, LOG_FORMAT: 'json' } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('storage identity: local storage', () => {
  let database: { url: string; drop(): Promise<void> };
  const dataDir = scratch();
  const otherDir = scratch();
  const env = (overrides: TestEnv = {}) => testEnv({ DATABASE_URL: database.url, DATA_DIR: dataDir, ...overrides });

  beforeAll(async () => {
    database = await createSuiteDatabase(`identity_local_${process.pid}`);
  });
  afterAll(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(otherDir, { recursive: true, force: true });
  });

  it('the first process records the store and marks it; later ones with the same DATA_DIR start', async () => {
    const first = await createTestApp(env());
    try {
      expect(await storageClaim(first)).toEqual({ kind: 'local', location: null });
      const worker = await startTestWorker(env());
      await worker.close();
      await api(first).get('/api/health/ready').expect(200);
    } finally {
      await first.close();
    }
  });

  it('refuses an API or a worker whose DATA_DIR lacks the marker, naming DATA_DIR', async () => {
    const refused = createTestApp(env({ DATA_DIR: otherDir }));
    await expect(refused).rejects.toThrow(StorageIdentityError);
    await expect(refused).rejects.toThrow(/lacks this installation's marker.*same DATA_DIR/);
    await expect(startTestWorker(env({ DATA_DIR: otherDir }))).rejects.toThrow(/lacks this installation's marker/);
  });

  it('refuses a node configured with S3, naming the settings recorded', async () => {
    const s3 = await startS3Server(BUCKET);
    try {
      const s3Env = env({ STORAGE: 's3', S3_BUCKET: BUCKET, S3_ENDPOINT: s3.endpoint, S3_REGION: 'us-east-1', ...s3Credentials() });
      await expect(startTestWorker(s3Env)).rejects.toThrow(
        'This installation keeps its files with STORAGE=local, but this node has STORAGE=s3 with S3_BUCKET=darkroom-identity: ' +
          "set STORAGE and DATA_DIR as on the installation's other nodes",
      );
    } finally {
      await s3.stop();
    }
  });

  it('turns readiness to 503 when the marker disappears under a running node', async () => {
    const app = await createTestApp(env());
    try {
      rmSync(join(dataDir, 'files', INSTALLATION_MARKER_KEY));
      const { body } = await api(app).get('/api/health/ready').expect(503);
      expect(body.error.storage.message).toMatch(/marker .* is gone/);
    } finally {
      await app.close();
    }
  });
});

describe('storage identity: S3', () => {
  let database: { url: string; drop(): Promise<void> };
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  let elsewhere: Awaited<ReturnType<typeof startS3Server>>;
  const s3Env = (endpoint: string, overrides: TestEnv = {}) =>
    testEnv({
      DATABASE_URL: database.url,
      STORAGE: 's3',
      S3_BUCKET: BUCKET,
      S3_ENDPOINT: endpoint,
      S3_REGION: 'us-east-1',
      ...s3Credentials(),
      ...overrides,
    });

  beforeAll(async () => {
    database = await createSuiteDatabase(`identity_s3_${process.pid}`);
    [s3, elsewhere] = await Promise.all([startS3Server(BUCKET), startS3Server(BUCKET)]);
    const first = await createTestApp(s3Env(s3.endpoint));
    expect(await storageClaim(first)).toEqual({ kind: 's3', location: BUCKET });
    await first.close();
  });
  afterAll(async () => {
    await database.drop();
    await Promise.all([s3.stop(), elsewhere.stop()]);
  });

  it('starts another node on the same bucket, whatever its DATA_DIR (scratch space only)', async () => {
    const worker = await startTestWorker(s3Env(s3.endpoint, { DATA_DIR: scratch() }));
    await worker.close();
  });

  it('refuses a node on a bucket of the same name elsewhere, naming S3_ENDPOINT and S3_BUCKET', async () => {
    await expect(startTestWorker(s3Env(elsewhere.endpoint))).rejects.toThrow(
      /lacks this installation's marker .*Check S3_ENDPOINT and S3_BUCKET/,
    );
  });

  it('a built worker with STORAGE=local exits at start with one line naming the settings, and takes no job', async () => {
    const { code, output } = await runBuiltWorker(testEnv({ DATABASE_URL: database.url, DATA_DIR: scratch() }));
    expect(code).toBe(1);
    const lines = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: string | number; msg: string });
    const errors = lines.filter((line) => line.msg.includes('STORAGE'));
    expect(errors).toHaveLength(1);
    expect(errors[0].msg).toBe(
      'This installation keeps its files with STORAGE=s3 with S3_BUCKET=darkroom-identity, but this node has STORAGE=local: ' +
        "set STORAGE, S3_ENDPOINT and S3_BUCKET as on the installation's other nodes",
    );
    expect(output).not.toMatch(/\n\s+at /);
  }, 90_000);
});

function s3Credentials(): TestEnv {
  return { S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey };
}
