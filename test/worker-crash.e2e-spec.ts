import { NestExpressApplication } from '@nestjs/platform-express';
import { ChildProcess, fork } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DataSource } from 'typeorm';
import { createImage, createUser, fixture, TestUser } from './utils/factories';
import { api, bearer, createTestApp, testEnv, TestEnv, waitForJob } from './utils/test-app';

const WORKER_MAIN = join(__dirname, '..', 'dist', 'src', 'worker.main.js');
const STEPS = Array.from({ length: 24 }, (_, i) => (i % 2 ? 'edges' : 'blur'));

/** A worker as `npm run start:worker` runs it: a separate process, here with its log in DATA_DIR. */
function startWorkerProcess(env: TestEnv, name: string): ChildProcess {
  const child = fork(WORKER_MAIN, [], { env: { ...process.env, ...env, WORKER_CONCURRENCY: '1' }, stdio: 'pipe' });
  const log = createWriteStream(join(env.DATA_DIR!, `${name}.log`));
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('a worker killed in the middle of a job', () => {
  let app: NestExpressApplication;
  let env: TestEnv;
  let user: TestUser;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    env = testEnv({ ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) });
    app = await createTestApp(env);
    user = await createUser(app);
  });

  afterAll(async () => {
    for (const worker of workers) worker.kill('SIGKILL');
    await Promise.all(workers.map(exited));
    await app?.close();
  });

  it('leaves the job to another worker, which completes it once, with no duplicate outputs', async () => {
    const large = await sharp(fixture('astronaut.png')).resize(2000, 2000).png({ compressionLevel: 1 }).toBuffer();
    const image = await createImage(app, user);
    await api(app).put(`/api/images/${image.id}/file`).set(bearer(user.token)).set('Content-Type', 'image/png').send(large).expect(200);
    const { body: created } = await api(app)
      .post('/api/jobs.json')
      .set(bearer(user.token))
      .send({ image_id: image.id, job_type: STEPS, params: { blur: { sigma: 20 } } })
      .expect(201);

    const first = startWorkerProcess(env, 'first-worker');
    workers.push(first);
    for (;;) {
      const { body: job } = await api(app).get(`/api/jobs/${created.id}.json`).set(bearer(user.token));
      if (job.status === 'completed') throw new Error('The job finished before the worker could be killed');
      if (job.status === 'running' && job.progress >= 10) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    first.kill('SIGKILL');
    await exited(first);
    const { body: orphaned } = await api(app).get(`/api/jobs/${created.id}.json`).set(bearer(user.token));
    expect(orphaned.status).toBe('running');
    expect(orphaned.progress).toBeLessThan(100);

    workers.push(startWorkerProcess(env, 'second-worker'));
    const job = await waitForJob(app, user.token, created.id, 120_000);
    expect(job).toMatchObject({ status: 'completed', progress: 100, attempts: 2, error: null });
    expect(job.outputs).toHaveLength(STEPS.length);
    expect(new Set(job.outputs).size).toBe(STEPS.length);
    const rows: { step_index: number; id: number }[] = await app
      .get(DataSource)
      .query('SELECT id, step_index FROM images WHERE job_id = $1 ORDER BY step_index', [created.id]);
    expect(rows.map((row) => row.step_index)).toEqual(STEPS.map((_, index) => index));
    expect(rows.map((row) => row.id)).toEqual(job.outputs);
  }, 180_000);
});
