import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import sharp from 'sharp';
import { DataSource } from 'typeorm';
import { AdvisoryLock } from '../src/database/advisory-locks';
import { createAdmin, createJob, createStoredImage, createUser, fixture, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

/** A job that runs for a few seconds on this machine, forced so that nothing of it is reused. */
const SLOW_STEPS = Array.from({ length: 4 }, (_, i) => (i % 2 ? 'edges' : 'blur'));
/** How long a paused queue is watched for a job that should not start, with a worker serving it. */
const WATCH_MS = 3000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The queues as an admin resource: their state, pause and resume, on each queue backend. */
describe.each(availableBackends())('pausing a queue, queue on $name', (backend) => {
  let env: TestEnv;
  let app: NestExpressApplication;
  let worker: INestApplicationContext | undefined;
  let admin: TestUser;
  let user: TestUser;

  beforeAll(async () => {
    // A database of its own: the queues' counts cover every job of the installation.
    env = testEnv({
      DATABASE_URL: (await createSuiteDatabase(`queue_pause_${backend.name}`)).url,
      REDIS_URL: backend.redisUrl,
      // No periodic pass of the reconciler (which also dispatches) during the suite: the resume's own must start the jobs.
      RECONCILE_INTERVAL: '3600',
    });
    app = await createTestApp(env);
    admin = await createAdmin(app);
    user = await createUser(app);
  });

  afterAll(async () => {
    await worker?.close();
    await app?.close();
  });

  const queues = async (): Promise<Record<string, any>[]> =>
    (await api(app).get('/api/queues.json').set(bearer(admin.token)).expect(200)).body;
  /** A sample of the API's /metrics, once it reads `value` (a reading is cached for 2 s). */
  const metricReads = async (sample: string, value: number) => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { text } = await api(app).get('/metrics').expect(200);
      const line = text.split('\n').find((row) => row.startsWith(`${sample} `));
      if (line === `${sample} ${value}`) return;
      if (Date.now() > deadline) throw new Error(`/metrics reads ${line ?? `no ${sample}`}, not ${value}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };

  it('lists the three queues to an admin, each with its pause, backlog and cap', async () => {
    expect(await queues()).toEqual(
      ['process', 'query', 'search'].map((name) => ({
        name,
        paused: false,
        pending: 0,
        pending_by_lane: { interactive: 0, bulk: 0 },
        waiting: 0,
        running: 0,
        concurrency_cap: null,
        updated_at: expect.any(String),
      })),
    );
  });

  it('pauses and resumes a queue; pausing it twice answers the same, and the pause outlives the API', async () => {
    const paused = (await api(app).post('/api/queues/search/pause.json').set(bearer(admin.token)).expect(200)).body;
    expect(paused).toMatchObject({ name: 'search', paused: true });
    const again = (await api(app).post('/api/queues/search/pause').set(bearer(admin.token)).expect(200)).body;
    expect(again).toEqual(paused);

    await app.close();
    app = await createTestApp(env);
    expect((await queues()).map((queue) => [queue.name, queue.paused])).toEqual([
      ['process', false],
      ['query', false],
      ['search', true],
    ]);
    await metricReads('darkroom_queue_paused{queue="search"}', 1);
    await metricReads('darkroom_queue_paused{queue="process"}', 0);

    const resumed = (await api(app).post('/api/queues/search/resume.json').set(bearer(admin.token)).expect(200)).body;
    expect(resumed).toMatchObject({ name: 'search', paused: false });
    expect(Date.parse(resumed.updated_at)).toBeGreaterThanOrEqual(Date.parse(paused.updated_at));
    expect((await queues()).every((queue) => !queue.paused)).toBe(true);
    await metricReads('darkroom_queue_paused{queue="search"}', 0);
  });

  it('refuses a non-admin with the admin routes’ 403, and names the known queues for an unknown one', async () => {
    const listed = await api(app).get('/api/queues.json').set(bearer(user.token)).expect(403);
    expect(listed.body).toEqual({ error: 'Only an admin may see the queues', details: [] });
    for (const action of ['pause', 'resume']) {
      const refused = await api(app).post(`/api/queues/process/${action}.json`).set(bearer(user.token)).expect(403);
      expect(refused.body.error).toBe('Only an admin may pause or resume a queue');
      // A non-admin learns nothing of which queues exist.
      await api(app).post(`/api/queues/nope/${action}.json`).set(bearer(user.token)).expect(403);
      const unknown = await api(app).post(`/api/queues/thumbnails/${action}.json`).set(bearer(admin.token)).expect(404);
      expect(unknown.body.error).toBe('No queue named "thumbnails": the queues are process, query, search');
    }
    await api(app).get('/api/queues.json').expect(401);
    expect((await queues()).every((queue) => !queue.paused)).toBe(true);
  });

  it('keeps new jobs queued while paused, lets the running one finish, stays paused through a restart, and runs them all once resumed', async () => {
    const pixels = await sharp(fixture('astronaut.png')).resize(1000, 1000).png({ compressionLevel: 1 }).toBuffer();
    const large = (await api(app).post('/api/images.json').set(bearer(user.token)).attach('file', pixels, 'large.png').expect(201)).body;
    const small = await createStoredImage(app, user, 'coffee.png');
    const read = async (id: number) => (await api(app).get(`/api/jobs/${id}.json`).set(bearer(user.token)).expect(200)).body;
    const processQueue = async () => (await queues()).find((queue) => queue.name === 'process')!;

    worker = await startTestWorker(env);
    const slow = await createJob(app, user, { image_id: large.id, job_type: SLOW_STEPS, params: { blur: { sigma: 8 } }, force: true });
    for (const deadline = Date.now() + 60_000; (await read(slow.id)).status !== 'running'; await sleep(50)) {
      if (Date.now() > deadline) throw new Error(`Job ${slow.id} never started`);
    }

    const paused = (await api(app).post('/api/queues/process/pause.json').set(bearer(admin.token)).expect(200)).body;
    expect(paused).toMatchObject({ name: 'process', paused: true, running: 1 });
    const held = [];
    for (const job_type of ['invert', 'grayscale', 'flip'])
      held.push((await createJob(app, user, { image_id: small.id, job_type, force: true })).id);

    // The running job finishes; the new ones wait, with a worker serving the queue.
    expect((await waitForJob(app, user.token, slow.id)).status).toBe('completed');
    await sleep(WATCH_MS);
    for (const id of held) expect(await read(id)).toMatchObject({ status: 'queued', started_at: null, attempts: 0 });
    expect(await processQueue()).toMatchObject({ paused: true, pending: 3, waiting: 0, running: 0 });
    await metricReads('darkroom_queue_jobs{queue="process",state="pending"}', 3);
    await metricReads('darkroom_queue_paused{queue="process"}', 1);

    // Every process stops and starts again: the pause is in PostgreSQL, not in any of them.
    await worker.close();
    await app.close();
    app = await createTestApp(env);
    worker = await startTestWorker(env);
    expect(await processQueue()).toMatchObject({ paused: true, pending: 3 });
    await sleep(WATCH_MS);
    for (const id of held) expect(await read(id)).toMatchObject({ status: 'queued', started_at: null });

    const resumed = (await api(app).post('/api/queues/process/resume.json').set(bearer(admin.token)).expect(200)).body;
    expect(resumed).toMatchObject({ name: 'process', paused: false });
    for (const id of held) expect((await waitForJob(app, user.token, id)).status).toBe('completed');
    expect(await processQueue()).toMatchObject({ paused: false, pending: 0, waiting: 0, running: 0 });
  }, 180_000);

  it('waits for a dispatch pass in progress, and takes back what it dispatched: none of it starts on the paused queue', async () => {
    const image = await createStoredImage(app, user, 'camera.png');
    await api(app).post('/api/queues/process/pause.json').set(bearer(admin.token)).expect(200);
    const job = await createJob(app, user, { image_id: image.id, job_type: 'invert', force: true });
    const dispatchedAt = async () =>
      ((await app.get(DataSource).query('SELECT dispatched_at FROM jobs WHERE id = $1', [job.id])) as { dispatched_at: Date | null }[])[0]
        .dispatched_at;
    expect(await dispatchedAt()).toBeNull();

    // A pass that read the queue as running before the pause: under the dispatch lock, it marks the job dispatched.
    const pass = app.get(DataSource).createQueryRunner();
    await pass.connect();
    await pass.startTransaction();
    let answered = false;
    try {
      await pass.query('SELECT pg_advisory_xact_lock($1)', [AdvisoryLock.JobDispatch]);
      await pass.query('UPDATE jobs SET dispatched_at = now(), delivery_id = gen_random_uuid() WHERE id = $1', [job.id]);
      const pausing = api(app)
        .post('/api/queues/process/pause.json')
        .set(bearer(admin.token))
        .then((response) => ((answered = true), response));
      await sleep(500);
      expect(answered).toBe(false);
      await pass.commitTransaction();
      expect((await pausing).status).toBe(200);
    } finally {
      if (pass.isTransactionActive) await pass.rollbackTransaction();
      await pass.release();
    }
    expect(await dispatchedAt()).toBeNull();

    await api(app).post('/api/queues/process/resume.json').set(bearer(admin.token)).expect(200);
    expect((await waitForJob(app, user.token, job.id)).status).toBe('completed');
  });
});
