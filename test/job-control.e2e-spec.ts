import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import sharp from 'sharp';
import { DataSource } from 'typeorm';
import { JobReconciler } from '../src/job-runs/job-reconciler';
import { JobQueue } from '../src/job-runs/job-queue';
import { StorageDriver } from '../src/storage/storage.driver';
import { createJob, createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv } from './utils/test-app';

/** Slow on purpose, and forced so that no step is reused from an earlier job of the suite. */
const SLOW_STEPS = Array.from({ length: 24 }, (_, i) => (i % 2 ? 'edges' : 'blur'));

/** Cancel, retry, the status filter and the reconciler, on the queue backend of the run (Redis when REDIS_URL is set). */
describe('job control', () => {
  let app: NestExpressApplication;
  let env: TestEnv;
  let user: TestUser;
  let worker: INestApplicationContext | undefined;
  let large: { id: number };

  beforeAll(async () => {
    env = testEnv({ ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) });
    app = await createTestApp(env);
    user = await createUser(app);
    const pixels = await sharp(fixture('astronaut.png')).resize(2000, 2000).png({ compressionLevel: 1 }).toBuffer();
    large = (await api(app).post('/api/images.json').set(bearer(user.token)).attach('file', pixels, 'large.png').expect(201)).body;
  });

  afterAll(async () => {
    await worker?.close();
    await app.close();
  });

  const read = async (id: number) => (await api(app).get(`/api/jobs/${id}.json`).set(bearer(user.token)).expect(200)).body;
  const until = async (id: number, done: (job: Record<string, any>) => boolean, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await read(id);
      if (done(job)) return job;
      if (Date.now() > deadline) throw new Error(`Job ${id} is still ${job.status}: ${JSON.stringify(job)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  /** Makes the job look as if it had been in its state for a while, as the reconciler requires. */
  const age = (id: number) => app.get(DataSource).query("UPDATE jobs SET updated_at = now() - interval '1 minute' WHERE id = $1", [id]);

  it('cancels a queued job, refuses to cancel it twice, lists it by status and retries it', async () => {
    const image = await createStoredImage(app, user, 'coffee.png');
    const job = await createJob(app, user, { image_id: image.id, job_type: 'invert' });
    const cancelled = await api(app).post(`/api/jobs/${job.id}/cancel`).set(bearer(user.token)).expect(200);
    expect(cancelled.body).toMatchObject({ id: job.id, status: 'cancelled', finished_at: expect.any(String) });
    const again = await api(app).post(`/api/jobs/${job.id}/cancel`).set(bearer(user.token)).expect(409);
    expect(again.body.error).toMatch(/already cancelled/);

    const listed = await api(app).get('/api/jobs.json?status=cancelled&n=all').set(bearer(user.token)).expect(200);
    expect(listed.body.map((row: { id: number }) => row.id)).toContain(job.id);
    expect(listed.body.every((row: { status: string }) => row.status === 'cancelled')).toBe(true);
    const bad = await api(app).get('/api/jobs.json?status=lost').set(bearer(user.token)).expect(422);
    expect(bad.body.details[0].field).toBe('status');

    const retried = await api(app).post(`/api/jobs/${job.id}/retry`).set(bearer(user.token)).expect(200);
    expect(retried.body).toMatchObject({ status: 'queued', error: null, finished_at: null, attempts: 0 });
    await api(app).post(`/api/jobs/${job.id}/retry`).set(bearer(user.token)).expect(409);
    worker ??= await startTestWorker(env);
    expect(await until(job.id, (row) => row.status === 'completed')).toMatchObject({ outputs: [expect.any(Number)] });
    await api(app).post(`/api/jobs/${job.id}/cancel`).set(bearer(user.token)).expect(409);
  });

  it('stops a running job at its next step, records nothing after the cancel, and a retry resumes from its outputs', async () => {
    worker ??= await startTestWorker(env);
    const job = await createJob(app, user, { image_id: large.id, job_type: SLOW_STEPS, params: { blur: { sigma: 8 } }, force: true });
    await until(job.id, (row) => row.status === 'running' && row.progress >= 8);
    const cancelled = (await api(app).post(`/api/jobs/${job.id}/cancel`).set(bearer(user.token)).expect(200)).body;
    expect(cancelled.status).toBe('cancelled');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const after = await read(job.id);
    expect(after).toMatchObject({ status: 'cancelled', progress: cancelled.progress });
    const [{ late }] = await app
      .get(DataSource)
      .query('SELECT count(*)::int AS late FROM images i JOIN jobs j ON j.id = i.job_id WHERE j.id = $1 AND i.created_at > j.finished_at', [
        job.id,
      ]);
    expect(late).toBe(0);
    const [{ recorded }] = await app.get(DataSource).query('SELECT count(*)::int AS recorded FROM images WHERE job_id = $1', [job.id]);
    expect(recorded).toBeLessThan(SLOW_STEPS.length);

    await api(app).post(`/api/jobs/${job.id}/retry`).set(bearer(user.token)).expect(200);
    const completed = await until(job.id, (row) => row.status === 'completed');
    expect(completed.outputs).toHaveLength(SLOW_STEPS.length);
    const rows = await app.get(DataSource).query('SELECT step_index FROM images WHERE job_id = $1 ORDER BY step_index', [job.id]);
    expect(rows.map((row: { step_index: number }) => row.step_index)).toEqual(SLOW_STEPS.map((_, index) => index));
  }, 180_000);

  it('deletes a running job by cancelling it first', async () => {
    worker ??= await startTestWorker(env);
    const job = await createJob(app, user, { image_id: large.id, job_type: SLOW_STEPS, params: { blur: { sigma: 8 } }, force: true });
    await until(job.id, (row) => row.status === 'running');
    const deleted = await api(app).delete(`/api/jobs/${job.id}.json`).set(bearer(user.token)).expect(200);
    expect(deleted.body.status).toBe('cancelled');
    await api(app).get(`/api/jobs/${job.id}.json`).set(bearer(user.token)).expect(404);
  }, 120_000);

  it('fails a job whose source image is deleted while it waits, naming the image', async () => {
    await worker?.close();
    worker = undefined;
    const image = await createStoredImage(app, user, 'coffee.png');
    const job = await createJob(app, user, { image_id: image.id, job_type: ['grayscale', 'histogram'] });
    await api(app).delete(`/api/images/${image.id}.json`).set(bearer(user.token)).expect(200);
    expect(await read(job.id)).toMatchObject({ status: 'failed', error: `Source image ${image.id} was deleted` });
  });

  it('fails at once, with what to do, a job whose source file is gone from storage', async () => {
    worker ??= await startTestWorker(env);
    const image = await createStoredImage(app, user, 'coffee.png');
    await app.get(StorageDriver).delete(image.s3_key);
    const job = await createJob(app, user, { image_id: image.id, job_type: 'invert' });
    expect(await until(job.id, (row) => row.status === 'failed')).toMatchObject({
      attempts: 1,
      error: `The file of source image ${image.id} is missing from storage; upload it again (PUT /api/images/${image.id}/file)`,
    });
  });

  it('queues again a job the queue lost, and expires a queued job past its ttl with no worker up', async () => {
    await worker?.close();
    worker = undefined;
    const image = await createStoredImage(app, user, 'coffee.png');
    const lost = await createJob(app, user, { image_id: image.id, job_type: 'invert', force: true });
    const expiring = await createJob(app, user, { image_id: image.id, job_type: 'invert', ttl: 1, force: true });
    // Its entry is added when the dispatcher gives the job its turn, under a new delivery id.
    let row: { id: number; deliveryId: string; jobType: string[] }[] = [];
    for (const deadline = Date.now() + 10_000; row.length === 0 && Date.now() < deadline;) {
      row = await app
        .get(DataSource)
        .query('SELECT id, delivery_id AS "deliveryId", job_type AS "jobType" FROM jobs WHERE id = $1 AND dispatched_at IS NOT NULL', [
          lost.id,
        ]);
      if (row.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(row).toHaveLength(1);
    await app.get(JobQueue).remove(row[0]);
    expect(await app.get(JobQueue).state(row[0])).toBe('unknown');
    await age(lost.id);
    await new Promise((resolve) => setTimeout(resolve, 1100));

    // The app's own periodic pass (every RECONCILE_INTERVAL) may have queued it again first: what
    // matters is that the queue holds the job again once a pass has run.
    await reconcileNow(app);
    expect(await app.get(JobQueue).state(row[0])).not.toBe('unknown');
    expect(await read(expiring.id)).toMatchObject({ status: 'failed', error: 'Expired: still queued after its ttl of 1 s', attempts: 0 });

    worker ??= await startTestWorker(env);
    expect(await until(lost.id, (job) => job.status === 'completed')).toMatchObject({ attempts: 1 });
  }, 60_000);

  it('requeues a running job whose attempt the queue lost, and the job completes once', async () => {
    await worker?.close();
    worker = undefined;
    const image = await createStoredImage(app, user, 'coffee.png');
    const job = await createJob(app, user, { image_id: image.id, job_type: 'invert', force: true });
    const dataSource = app.get(DataSource);
    // As after a worker died holding it and the queue's data was lost: the row says running, the queue knows nothing.
    await dataSource.query("UPDATE jobs SET status = 'running', attempts = 1 WHERE id = $1", [job.id]);
    const [row] = await dataSource.query('SELECT id, delivery_id AS "deliveryId", job_type AS "jobType" FROM jobs WHERE id = $1', [job.id]);
    await app.get(JobQueue).remove(row);
    await age(job.id);
    const report = await reconcileNow(app);
    expect(report.recovered).toBeGreaterThanOrEqual(1);
    expect(await read(job.id)).toMatchObject({ status: 'queued', error: expect.stringMatching(/Attempt 1 was lost/) });
    worker = await startTestWorker(env);
    expect(await until(job.id, (current) => current.status === 'completed')).toMatchObject({ attempts: 2, error: null });
  }, 60_000);
});

/** A pass of the reconciler now, waiting for one that another process may be making. */
async function reconcileNow(app: NestExpressApplication) {
  for (let tries = 0; tries < 100; tries++) {
    const report = await app.get(JobReconciler).reconcile();
    if (report) return report;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('The reconciler lock stayed taken');
}
