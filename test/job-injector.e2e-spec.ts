import { NestExpressApplication } from '@nestjs/platform-express';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { JobQueue } from '../src/job-runs/job-queue';
import { createImage, createJob, createStoredImage, createUser, TestUser } from './utils/factories';
import { createSuiteDatabase } from './utils/suite-database';
import { ADMIN_TOKEN, api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

const SEQUENCE = ['process', 'grayscale', 'histogram'];
const ROOT = join(__dirname, '..');

/**
 * The injector, over HTTP and as `npm run inject`, on the queue backend of the run (Redis when
 * REDIS_URL is set). Its own database: an injection without user_id covers every image there is.
 */
describe('the injector', () => {
  let database: { url: string; drop(): Promise<void> };
  let env: TestEnv;
  let app: NestExpressApplication;
  let ada: TestUser;
  let bob: TestUser;
  /** By what the arrangement gave each: the images a first injection must give a job. */
  const images: Record<string, number> = {};

  const inject = (body: Record<string, unknown>, token = ADMIN_TOKEN) =>
    api(app).post('/api/jobs/inject.json').set(bearer(token)).send(body);
  const sql = (query: string, values: unknown[] = []) => app.get(DataSource).query(query, values);
  const jobsOf = (imageId: number) =>
    sql('SELECT id, user_id, status, lane, dispatched_at, job_type, params, delivery_id FROM jobs WHERE image_id = $1 ORDER BY id', [
      imageId,
    ]);
  const sameJobs = async () => Number((await sql("SELECT count(*) FROM jobs WHERE job_type = $1 AND params = '{}'", [SEQUENCE]))[0].count);

  beforeAll(async () => {
    database = await createSuiteDatabase(`injector_${process.pid}`);
    env = testEnv({ DATABASE_URL: database.url, ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}) });
    app = await createTestApp(env);
    ada = await createUser(app);
    bob = await createUser(app);
    for (const name of ['completed', 'queued', 'failed', 'cancelled', 'otherSequence', 'none']) {
      images[name] = (await createStoredImage(app, ada)).id;
    }
    images.bobs = (await createStoredImage(app, bob)).id;
    const job = (name: string, job_sequence = SEQUENCE) => createJob(app, ada, { image_id: images[name], job_sequence });
    await sql("UPDATE jobs SET status = 'completed', finished_at = now() WHERE id = $1", [(await job('completed')).id]);
    await job('queued');
    await sql("UPDATE jobs SET status = 'failed', error = 'test', finished_at = now() WHERE id = $1", [(await job('failed')).id]);
    await api(app)
      .post(`/api/jobs/${(await job('cancelled')).id}/cancel`)
      .set(bearer(ada.token))
      .expect(200);
    await job('otherSequence', ['process', 'grayscale']);
    // Neither matched: no stored file, and (with image_type=original) an image of another type.
    await createImage(app, ada);
    const grey = await createStoredImage(app, ada);
    await api(app).put(`/api/images/${grey.id}.json`).set(bearer(ada.token)).send({ image_type: 'grayscale' }).expect(200);
    images.grey = grey.id;
  });

  afterAll(async () => {
    await app?.close();
    await database?.drop();
  });

  const MISSING = ['failed', 'cancelled', 'otherSequence', 'none', 'bobs'];

  it('on a dry run only counts; then creates exactly the missing jobs, owned by each image’s owner and queued; a second run creates none', async () => {
    const before = await sameJobs();
    const dry = await inject({ job_sequence: SEQUENCE, image_type: 'original', dry_run: true }).expect(200);
    expect(dry.body).toEqual({
      job_sequence: SEQUENCE,
      params: {},
      images_matched: 7,
      already_done: 1,
      already_pending: 1,
      missing: 5,
      jobs_created: 0,
      force: false,
      dry_run: true,
    });
    expect(await sameJobs()).toBe(before);

    const first = await inject({ job_sequence: SEQUENCE, image_type: 'original' }).expect(200);
    expect(first.body).toMatchObject({ images_matched: 7, already_done: 1, already_pending: 1, missing: 5, jobs_created: 5 });
    const queue = app.get(JobQueue);
    for (const name of [...MISSING, 'completed', 'queued', 'grey']) {
      const pending = (await jobsOf(images[name])).filter(
        (row: { job_type: string[]; status: string }) => row.job_type.join() === SEQUENCE.join() && row.status === 'queued',
      );
      expect([name, pending.length]).toEqual([name, MISSING.includes(name) || name === 'queued' ? 1 : 0]);
      if (!MISSING.includes(name)) continue;
      const [created] = pending;
      expect(created).toMatchObject({ user_id: name === 'bobs' ? bob.id : ada.id, params: {}, lane: 'bulk' });
      // Pending its turn in PostgreSQL, or already dispatched to the queue (docs/queues.md).
      const state = await queue.state({ id: created.id, deliveryId: created.delivery_id, jobType: SEQUENCE });
      expect(created.dispatched_at === null ? 'pending' : state).toMatch(/^(pending|waiting|prioritized)$/);
    }
    // The owner sees it as any job of theirs.
    const [mine] = (await jobsOf(images.none)).slice(-1);
    const read = await api(app).get(`/api/jobs/${mine.id}.json`).set(bearer(ada.token)).expect(200);
    expect(read.body).toMatchObject({ status: 'queued', job_type: SEQUENCE, image_id: images.none });

    const second = await inject({ job_sequence: SEQUENCE, image_type: 'original' }).expect(200);
    expect(second.body).toMatchObject({ images_matched: 7, already_done: 1, already_pending: 6, missing: 0, jobs_created: 0 });
  });

  it('with force creates the job for every matching image; the selection narrows by user', async () => {
    const before = await sameJobs();
    const forced = await inject({ job_sequence: ['grayscale', 'histogram'], user_id: bob.id, days: 'today', force: true }).expect(200);
    expect(forced.body).toMatchObject({ job_sequence: SEQUENCE, images_matched: 1, already_pending: 1, jobs_created: 1, force: true });
    // Without image_type every stored image of everyone matches, the grayscale one included.
    const all = await inject({ job_sequence: SEQUENCE, force: true, days: 1 }).expect(200);
    expect(all.body).toMatchObject({ images_matched: 8, jobs_created: 8 });
    expect(await sameJobs()).toBe(before + 9);
    // Forced jobs compute their steps again rather than reuse earlier identical work.
    const forcedJobs = await sql('SELECT force FROM jobs WHERE job_type = $1 ORDER BY id DESC LIMIT 9', [SEQUENCE]);
    expect(forcedJobs.every((job: { force: boolean }) => job.force)).toBe(true);
  });

  it('counts params as part of the job, and concurrent injections create no more than one would', async () => {
    const resize = (width: number) => ({ job_sequence: ['resize'], params: { resize: { width } }, user_id: ada.id });
    const runs = await Promise.all([inject(resize(10)), inject(resize(10)), inject(resize(10))]);
    expect(runs.map((run) => run.status)).toEqual([200, 200, 200]);
    expect(runs.reduce((sum, run) => sum + run.body.jobs_created, 0)).toBe(7);
    const other = await inject(resize(20)).expect(200);
    expect(other.body).toMatchObject({ params: { resize: { width: 20 } }, images_matched: 7, jobs_created: 7 });
  });

  it('is for admins only (403), and refuses bad options with 422 naming the field', async () => {
    const refused = await inject({ job_sequence: SEQUENCE }, ada.token).expect(403);
    expect(refused.body.error).toBe('Only an admin may inject jobs');
    await api(app).post('/api/jobs/inject.json').send({ job_sequence: SEQUENCE }).expect(401);

    const fields = async (body: Record<string, unknown>) =>
      (await inject(body).expect(422)).body.details.map((d: { field: string }) => d.field);
    expect(await fields({})).toEqual(['job_sequence']);
    expect(await fields({ job_sequence: ['process', 'sparkle'] })).toEqual(['job_sequence']);
    expect(await fields({ job_sequence: ['query', 'histogram', 'median'] })).toEqual(['job_sequence']);
    expect(await fields({ job_sequence: ['resize'], params: { resize: { width: -1 } } })).toEqual(['params.resize.width']);
    expect(await fields({ job_sequence: ['process', 'sparkle'], days: 'yesterday' })).toEqual(['job_sequence', 'days']);
    expect(await fields({ job_sequence: SEQUENCE, user_id: 'me' })).toEqual(['user_id']);
    expect(await fields({ job_sequence: SEQUENCE, image_type: 'nonesuch' })).toEqual(['image_type']);
    expect(await fields({ job_sequence: SEQUENCE, n: 5 })).toEqual(['n']);
    expect(await fields({ job_sequence: SEQUENCE, force: 'yes' })).toEqual(['force']);
  });

  it('runs as npm run inject: prints the summary, and exits 2 on a bad option', async () => {
    const cli = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [join(ROOT, 'dist/src/jobs/inject.cli.js'), ...args], {
          cwd: ROOT,
          env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const run = await cli(['--job-sequence', 'process,invert', '--image-type', 'original', '--user-id', String(bob.id)]);
    expect(run).toEqual({
      code: 0,
      stdout: 'Job: process,invert {}\nImages matched:  1\nAlready done:    0\nAlready pending: 0\nJobs created:    1\n',
      stderr: '',
    });
    const [created] = (await jobsOf(images.bobs)).slice(-1);
    expect(created).toMatchObject({ job_type: ['process', 'invert'], user_id: bob.id, status: 'queued' });

    const bad = await cli(['--job-sequence', 'process,invert', '--days', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe(
      'darkroom inject: --days: days must be a whole number of days from 1 to 36500 or "today", not "soon"\nSee npm run inject -- --help\n',
    );
  });

  it('makes jobs that a worker runs as any other', async () => {
    const [injected] = (await jobsOf(images.bobs)).slice(-1);
    // The other jobs left queued would keep the worker busy; cancelled, their entries are skipped.
    await sql("UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE status = 'queued' AND id <> $1", [injected.id]);
    const worker = await startTestWorker(env);
    try {
      const done = await waitForJob(app, bob.token, injected.id);
      expect(done).toMatchObject({ status: 'completed', job_type: ['process', 'invert'], outputs: [expect.any(Number)] });
    } finally {
      await worker.close();
    }
  });
});
