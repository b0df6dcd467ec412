import { INestApplicationContext } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { JobDispatcher } from '../src/job-runs/job-dispatcher';
import { JobReconciler } from '../src/job-runs/job-reconciler';
import { QueueStateRepository } from '../src/job-runs/queue-state.repository';
import { createStoredImage, createUser, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { ManagedProcess, startNode, WORKER_MAIN } from './utils/faults/processes';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv } from './utils/test-app';

interface StartedJob {
  id: number;
  user_id: number;
  lane: string;
  started_at: Date;
  finished_at: Date;
}

/** Who runs next when several users wait (src/job-runs/dispatch-order.ts), on each queue backend, with one worker slot so that the order shows. */
describe.each(availableBackends())('fair queues, queue on $name', (backend) => {
  let app: NestExpressApplication;
  let env: TestEnv;
  let worker: INestApplicationContext | undefined;
  let ada: TestUser;
  let bob: TestUser;
  let adaImage: number;
  let bobImage: number;

  beforeAll(async () => {
    env = testEnv({
      DATABASE_URL: (await createSuiteDatabase(`fair-${backend.name}`)).url,
      REDIS_URL: backend.redisUrl,
      WORKER_CONCURRENCY: '1',
    });
    app = await createTestApp(env);
  });

  // Users new to each test: turns also weigh when each user was last served.
  beforeEach(async () => {
    ada = await createUser(app);
    bob = await createUser(app);
    adaImage = (await createStoredImage(app, ada, 'camera.png')).id;
    bobImage = (await createStoredImage(app, bob, 'coffee.png')).id;
  });

  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });

  afterAll(() => app?.close());

  /** Each its own work (a distinct resize), so that none is answered by reusing another's. */
  let size = 100;
  const bodies = (imageId: number, count: number, extra: Record<string, unknown> = {}) =>
    Array.from({ length: count }, () => ({ image_id: imageId, job_type: ['resize'], params: { resize: { width: size++ } }, ...extra }));
  const submit = async (user: TestUser, jobs: unknown[]): Promise<number[]> => {
    const { body } = await api(app).post('/api/jobs/batch.json').set(bearer(user.token)).send({ jobs }).expect(200);
    return body.map((item: { status: number; job: { id: number } }) => {
      expect(item.status).toBe(201);
      return item.job.id;
    });
  };
  const paused = (isPaused: boolean) => app.get(QueueStateRepository).setPaused('process', isPaused);
  /** The jobs in the order they started, once all have completed. */
  const startOrder = async (ids: number[], timeoutMs = 90_000): Promise<StartedJob[]> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows: (StartedJob & { status: string })[] = await app
        .get(DataSource)
        .query('SELECT id, user_id, lane, status, started_at, finished_at FROM jobs WHERE id = ANY($1) ORDER BY started_at, id', [ids]);
      if (rows.every((row) => row.status === 'completed')) return rows;
      if (Date.now() > deadline) throw new Error(`Not all completed: ${JSON.stringify(rows.map((row) => [row.id, row.status]))}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const runAll = async () => {
    await paused(false);
    app.get(JobDispatcher).dispatchSoon();
    worker = await startTestWorker(env);
  };

  it("gives users turns: one user's backlog does not hold back another's jobs", async () => {
    await paused(true);
    const adas = await submit(ada, bodies(adaImage, 8));
    const bobs = await submit(bob, bodies(bobImage, 3));
    await runAll();
    const order = await startOrder([...adas, ...bobs]);
    const owners = order.map((job) => (job.user_id === ada.id ? 'ada' : 'bob'));
    expect(owners).toEqual(['ada', 'bob', 'ada', 'bob', 'ada', 'bob', 'ada', 'ada', 'ada', 'ada', 'ada']);
    // Each user's own jobs in the order they were created.
    expect(order.filter((job) => job.user_id === ada.id).map((job) => job.id)).toEqual(adas);
  }, 120_000);

  it('starts interactive work first and keeps bulk work its share', async () => {
    await paused(true);
    const bulk = await submit(ada, bodies(adaImage, 10, { lane: 'bulk' }));
    const interactive = await submit(bob, bodies(bobImage, 10));
    await runAll();
    const lanes = (await startOrder([...bulk, ...interactive])).map((job) => job.lane);
    expect(lanes[0]).toBe('interactive');
    // BULK_SHARE (20 %) of what is in flight: about one job in five while interactive work waits.
    const bulkInFirstTen = lanes.slice(0, 10).filter((lane) => lane === 'bulk').length;
    expect(bulkInFirstTen).toBeGreaterThanOrEqual(1);
    expect(bulkInFirstTen).toBeLessThanOrEqual(3);
  }, 120_000);

  it('puts a job requeued after its worker was lost first among its own user’s jobs, without jumping ahead of the others', async () => {
    await paused(true);
    const [lost] = await submit(ada, bodies(adaImage, 1));
    // Its worker took it and died: running, an attempt spent, no queue entry left.
    await app
      .get(DataSource)
      .query(
        "UPDATE jobs SET status = 'running', attempts = 1, started_at = now(), dispatched_at = now(), updated_at = now() - interval '1 minute' WHERE id = $1",
        [lost],
      );
    const bobs = await submit(bob, bodies(bobImage, 2));
    const adas = await submit(ada, bodies(adaImage, 2));
    await app.get(JobReconciler).reconcile();
    const [requeued] = await app.get(DataSource).query('SELECT status, dispatched_at, attempts FROM jobs WHERE id = $1', [lost]);
    expect(requeued).toEqual({ status: 'queued', dispatched_at: null, attempts: 1 });
    await runAll();
    const order = (await startOrder([lost, ...bobs, ...adas])).map((job) => job.id);
    expect(order).toEqual([lost, bobs[0], adas[0], bobs[1], adas[1]]);
  }, 120_000);
});

/**
 * The operator's caps hold across worker processes: QUEUE_CONCURRENCY_process and
 * USER_CONCURRENCY count the jobs running anywhere.
 */
describe.each(availableBackends())('concurrency caps across two worker processes, queue on $name', (backend) => {
  let app: NestExpressApplication;
  let env: TestEnv;
  const workers: ManagedProcess[] = [];

  beforeAll(async () => {
    env = testEnv({
      DATABASE_URL: (await createSuiteDatabase(`caps-${backend.name}`)).url,
      REDIS_URL: backend.redisUrl,
      QUEUE_CONCURRENCY_process: '2',
      USER_CONCURRENCY: '1',
    });
    app = await createTestApp(env);
    const logs = mkdtempSync(join(tmpdir(), 'darkroom-caps-'));
    const inherited = { PATH: process.env.PATH, HOME: process.env.HOME };
    // Each worker process on the PostgreSQL backend opens a pool per queue it serves: serving only
    // `process`, with a small pool, keeps the two of them well inside the server's connections,
    // which the suites running beside this one share.
    const workerEnv = { ...inherited, ...env, WORKER_QUEUES: 'process', DATABASE_POOL_SIZE: '3' };
    for (const name of ['worker-1', 'worker-2']) {
      workers.push(startNode(name, WORKER_MAIN, [], workerEnv, join(logs, `${name}.log`)));
    }
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.signal('SIGTERM')));
    await app?.close();
  });

  it('never runs more than the queue cap, nor more than one job per user, however many worker slots there are', async () => {
    const users = [await createUser(app), await createUser(app), await createUser(app)];
    const ids: number[] = [];
    let size = 200;
    for (const user of users) {
      const image = (await createStoredImage(app, user, 'astronaut.png')).id;
      const jobs = Array.from({ length: 4 }, () => ({
        image_id: image,
        job_type: ['resize', 'blur'],
        params: { resize: { width: size++ }, blur: { sigma: 3 } },
      }));
      const { body } = await api(app).post('/api/jobs/batch.json').set(bearer(user.token)).send({ jobs }).expect(200);
      ids.push(...body.map((item: { job: { id: number } }) => item.job.id));
    }
    const deadline = Date.now() + 120_000;
    let rows: (StartedJob & { status: string })[];
    for (;;) {
      rows = await app.get(DataSource).query('SELECT id, user_id, status, started_at, finished_at FROM jobs WHERE id = ANY($1)', [ids]);
      if (rows.every((row) => row.status === 'completed')) break;
      if (Date.now() > deadline) throw new Error(`Not all completed: ${JSON.stringify(rows.map((row) => [row.id, row.status]))}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // A job is dispatched only once the one it makes room for has finished (committed), so the
    // rows' own start and end times tell exactly how many ran at once.
    const peak = (jobs: StartedJob[]) => {
      const edges = jobs.flatMap((job) => [
        { at: job.started_at.getTime(), step: 1 },
        { at: job.finished_at.getTime(), step: -1 },
      ]);
      edges.sort((a, b) => a.at - b.at || a.step - b.step);
      let running = 0;
      let most = 0;
      for (const edge of edges) most = Math.max(most, (running += edge.step));
      return most;
    };
    expect(peak(rows)).toBe(2);
    for (const user of users) expect(peak(rows.filter((row) => row.user_id === user.id))).toBe(1);
  }, 180_000);
});
