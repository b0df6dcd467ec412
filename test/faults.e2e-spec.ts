/**
 * Fault injection: "every job ends completed, failed (with a reason) or cancelled; none is lost,
 * stuck or duplicated", with the API and the workers as separate OS processes started from dist/
 * (as `npm run start:api` / `start:worker` run them), each scenario on its own database, on both
 * queue backends: BullMQ on Redis (when REDIS_URL is set) and BullMQ's PostgreSQL backend.
 *
 * Each scenario injects its fault, gives every job FINAL_BOUND_MS to become final, checks the
 * invariants on the database (test/utils/faults/invariants.ts) and adds a row to the table printed
 * at the end. Children's logs are in each scenario's DATA_DIR; a failure prints their tails.
 */
import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { availableBackends, Cluster } from './utils/faults/cluster';
import { formatCountsTable, outputsStayPut, statusCounts, waitForJobRow } from './utils/faults/invariants';
import { restartableServer } from './utils/faults/postgres';
import { REDIS_SERVER, startPrivateRedis } from './utils/faults/redis-server';
import { liveProcesses, ManagedProcess, pollUntil, sleep, within } from './utils/faults/processes';
import { deleteInstallationKeys, redisKeysOf, truncateQueueTables } from './utils/faults/queue-store';
import { countsRows, images, runScenario } from './utils/faults/scenario';
import { installed, whenInstalled } from './setup/required-tools';

const SCENARIO_TIMEOUT = 300_000;

/*
 * Every job says `force`: the jobs of a scenario repeat the same work on the same image, which
 * would otherwise be reused after the first (docs/pipelines.md, "No redundant work") and end in
 * milliseconds, leaving no work in flight for the faults to hit.
 */
/** Two cheap steps: volume. */
const light = (imageId: number) => ({ image_id: imageId, job_type: ['grayscale', 'histogram'], force: true });
/** A few hundred milliseconds of work on the 512×512 image: 60 of them keep four slots busy for a while. */
const medium = (imageId: number) => ({
  image_id: imageId,
  job_type: ['grayscale', 'blur', 'edges', 'sharpen', 'histogram'],
  params: { blur: { sigma: 3 }, sharpen: { sigma: 2 } },
  force: true,
});
/** 24 slow steps on the 2000×2000 image (as in worker-crash.e2e-spec.ts): seconds of work, progress in 4 % steps. */
const HEAVY_STEPS = Array.from({ length: 24 }, (_, i) => (i % 2 ? 'edges' : 'blur'));
/** 32 of them, the most a job may have: several seconds on this machine. */
const LONGEST_STEPS = Array.from({ length: 32 }, (_, i) => (i % 2 ? 'edges' : 'blur'));
const heavy = (imageId: number, extra: Record<string, unknown> = {}) => ({
  image_id: imageId,
  job_type: HEAVY_STEPS,
  params: { blur: { sigma: 20 } },
  force: true,
  ...extra,
});

/** Waits until at least `running` jobs are running and `completed` completed (the work is in flight). */
async function inFlight(cluster: Cluster, { running = 1, completed = 0 } = {}, timeoutMs = 60_000): Promise<Record<string, number>> {
  return pollUntil(
    `${running} running and ${completed} completed jobs`,
    async () => {
      const counts = await statusCounts(cluster.pool);
      return (counts.running ?? 0) >= running && (counts.completed ?? 0) >= completed ? counts : undefined;
    },
    timeoutMs,
    50,
  );
}

async function outputCount(cluster: Cluster, jobId: number): Promise<number> {
  return (await cluster.pool.query('SELECT count(*)::int AS n FROM images WHERE job_id = $1', [jobId])).rows[0].n;
}

/** Waits until every job of the cluster is final (and returns the counts), or throws after `timeoutMs`. */
async function allFinal(cluster: Cluster, timeoutMs = 90_000): Promise<Record<string, number>> {
  return pollUntil(
    `every job of ${cluster.label} to be final`,
    async () => {
      const counts = await statusCounts(cluster.pool);
      return (counts.queued ?? 0) + (counts.running ?? 0) === 0 ? counts : undefined;
    },
    timeoutMs,
    200,
  );
}

async function startedCluster(
  cluster: Cluster,
  { workers = 2, image = images.small }: { workers?: number; image?: () => Promise<Buffer> } = {},
): Promise<{ imageId: number; workers: ManagedProcess[] }> {
  const started = Array.from({ length: workers }, () => cluster.startWorker());
  await cluster.startApi();
  await cluster.signUp();
  const imageId = await cluster.upload(await image());
  await Promise.all(started.map((worker) => cluster.waitForWorker(worker)));
  return { imageId, workers: started };
}

const INSTALL_REDIS = 'apt-get install redis-server';

beforeAll(() => {
  // The suite's own migrations (createSuiteDatabase) need not log every step.
  Logger.overrideLogger(['error', 'warn']);
});

afterAll(async () => {
  // Nothing should be left (each scenario cleans up after itself), but nothing may outlive the suite.
  await Promise.all(liveProcesses().map((child) => child.kill()));
  if (countsRows.length) console.log(`Fault scenarios:\n${formatCountsTable(countsRows)}`);
});

describe.each(availableBackends().map((backend) => [backend.name, backend] as const))(
  'faults on the %s queue backend',
  (_name, backend) => {
    const redisOnly = backend.name === 'redis' ? it : it.skip;
    const withRedisServer =
      backend.name === 'redis' ? whenInstalled(it, 'redis-server', REDIS_SERVER !== undefined, INSTALL_REDIS) : it.skip;

    redisOnly(
      '1. two databases on one Redis: a fresh database’s jobs 1, 2, 3 run, alone and side by side with the other’s',
      () =>
        runScenario(backend, 'two databases, one Redis', async (ctx) => {
          const a = await ctx.cluster('a');
          const { imageId: imageA } = await startedCluster(a, { workers: 1 });
          const idsA = await a.submit(3, () => light(imageA), 1);
          expect(idsA).toEqual([1, 2, 3]);
          expect(await allFinal(a, 60_000)).toEqual({ completed: 3 });

          // A fresh database numbers its jobs from 1 again: the same ids as A's, on the same Redis.
          const b = await ctx.cluster('b');
          const { imageId: imageB } = await startedCluster(b, { workers: 1 });
          const idsB = await b.submit(3, () => light(imageB), 1);
          expect(idsB).toEqual(idsA);
          expect(await allFinal(b, 60_000)).toEqual({ completed: 3 });
          const [installationA, installationB] = await Promise.all([a.installationId(), b.installationId()]);
          ctx.note(`installations: A ${installationA}, B ${installationB}`);
          expect(installationB).not.toBe(installationA);

          // Both at once.
          await Promise.all([a.submit(10, () => light(imageA)), b.submit(10, () => light(imageB))]);
          const [finalA, finalB] = await Promise.all([allFinal(a, 90_000), allFinal(b, 90_000)]);
          expect([finalA, finalB]).toEqual([{ completed: 13 }, { completed: 13 }]);
        }),
      SCENARIO_TIMEOUT,
    );

    it(
      '2. workers SIGKILLed 3 times with 60 jobs in flight',
      () =>
        runScenario(backend, 'worker SIGKILL x3', async (ctx) => {
          const cluster = await ctx.cluster('c');
          const { imageId } = await startedCluster(cluster, { workers: 2, image: images.medium });
          await cluster.submit(60, () => medium(imageId), 6);
          for (let kill = 1; kill <= 3; kill++) {
            const counts = await inFlight(cluster, { running: 2, completed: kill * 5 });
            // The oldest worker, busy for a while by now; a replacement starts at once, as a supervisor would.
            const [victim] = cluster.workers();
            await victim.kill();
            ctx.note(`SIGKILL ${kill}: ${victim.name} (pid ${victim.pid}) with jobs ${JSON.stringify(counts)}`);
            const replacement = cluster.startWorker();
            if (kill < 3) {
              await cluster.waitForWorker(replacement);
              await sleep(500);
            }
          }
          ctx.faultsOver();
          ctx.note(`after the kills: ${JSON.stringify(await statusCounts(cluster.pool))}`);
        }),
      SCENARIO_TIMEOUT,
    );

    it(
      '3. the queue’s data deleted mid-run (Redis keys of the installation / the bullmq tables)',
      () =>
        runScenario(backend, 'queue data deleted', async (ctx) => {
          const cluster = await ctx.cluster('c');
          const { imageId } = await startedCluster(cluster, { workers: 2, image: images.medium });
          const installation = backend.redisUrl ? await cluster.installationId() : null;
          await cluster.submit(60, () => medium(imageId), 6);
          const counts = await inFlight(cluster, { running: 2, completed: 10 });
          if (backend.redisUrl) {
            const before = (await redisKeysOf(backend.redisUrl, installation!)).length;
            const deleted = await deleteInstallationKeys(backend.redisUrl, installation!);
            ctx.note(`deleted ${deleted} Redis keys (${before} found) of installation ${installation} with jobs ${JSON.stringify(counts)}`);
            expect(deleted).toBeGreaterThan(0);
          } else {
            const tables = await truncateQueueTables(cluster.pool);
            ctx.note(`truncated bullmq.${tables.join(', bullmq.')} with jobs ${JSON.stringify(counts)}`);
          }
          ctx.faultsOver();
        }),
      SCENARIO_TIMEOUT,
    );

    it(
      '4. PostgreSQL restarted mid-run',
      () =>
        runScenario(
          backend,
          'PostgreSQL restarted',
          async (ctx) => {
            ctx.note(`restarting ${ctx.server.description}`);
            const cluster = await ctx.cluster('c');
            const { imageId } = await startedCluster(cluster, { workers: 2, image: images.medium });
            await cluster.submit(60, () => medium(imageId), 6);
            const counts = await inFlight(cluster, { running: 2, completed: 10 });
            const restartStarted = Date.now();
            await ctx.server.restart();
            ctx.note(`restarted in ${Date.now() - restartStarted} ms with jobs ${JSON.stringify(counts)}`);
            ctx.faultsOver();
          },
          { server: restartableServer },
        ),
      SCENARIO_TIMEOUT,
    );

    withRedisServer(
      '4b. Redis restarted mid-run, without persistence (a private Redis server, so no one else loses theirs)',
      async () => {
        const redis = installed(await startPrivateRedis(), 'redis-server', INSTALL_REDIS);
        try {
          await runScenario({ name: 'redis', redisUrl: redis.url }, 'Redis restarted', async (ctx) => {
            const cluster = await ctx.cluster('c');
            const { imageId } = await startedCluster(cluster, { workers: 2, image: images.medium });
            await cluster.submit(60, () => medium(imageId), 6);
            const counts = await inFlight(cluster, { running: 2, completed: 10 });
            const restartStarted = Date.now();
            await redis.restart();
            ctx.note(`Redis restarted in ${Date.now() - restartStarted} ms with jobs ${JSON.stringify(counts)}; its data is gone`);
            ctx.faultsOver();
          });
        } finally {
          await redis.close();
        }
      },
      SCENARIO_TIMEOUT,
    );

    it(
      '5. the API killed between a job’s insert and its enqueue (a single job, then a batch), then restarted: the reconciler runs the jobs',
      () =>
        runScenario(backend, 'API killed before enqueue', async (ctx) => {
          const cluster = await ctx.cluster('c');
          cluster.startWorker();
          const crashing = { DARKROOM_CRASH_AFTER_JOB_INSERT: '1' };
          let api = await cluster.startApi(crashing);
          await cluster.signUp();
          const imageId = await cluster.upload(await images.small());
          for (let crash = 1; crash <= 2; crash++) {
            if (crash > 1) api = await cluster.startApi(crashing);
            api.exitExpected = true;
            // The second time, a batch of two: its rows too are committed before anything is queued.
            const answer =
              crash === 1
                ? await cluster.client.createJob(light(imageId))
                : await cluster.client.request('POST', '/api/jobs/batch.json', { jobs: [light(imageId), light(imageId)] });
            expect({ status: answer.status, body: answer.body }).toEqual({ status: 0, body: null });
            const exit = await within(api.exited, 15_000);
            expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
            ctx.note(`crash ${crash}: the client saw ${answer.error}`);
          }
          // Every row was committed (the hooked API's own reconciler may already have queued the first).
          const { rows } = await cluster.pool.query<{ id: number; status: string }>('SELECT id, status FROM jobs ORDER BY id');
          expect(rows.map((row) => row.id)).toEqual([1, 2, 3]);
          ctx.note(`rows after the crashes: ${JSON.stringify(rows)}`);
          await cluster.startApi();
          ctx.faultsOver();
          await cluster.submit(3, () => light(imageId));
          expect(await allFinal(cluster, 90_000)).toEqual({ completed: 6 });
        }),
      SCENARIO_TIMEOUT,
    );

    it(
      '6. a running and a queued job cancelled: nothing recorded after the cancel; a cancelled job retried completes',
      () =>
        runScenario(backend, 'cancel and retry', async (ctx) => {
          const cluster = await ctx.cluster('c', { WORKER_CONCURRENCY: '1' });
          const { imageId: large } = await startedCluster(cluster, { workers: 1, image: images.large });
          const small = await cluster.upload(await images.small());
          const [running] = await cluster.submit(1, () => heavy(large, { attempts: 1 }));
          const [queued] = await cluster.submit(1, () => light(small));
          await waitForJobRow(cluster.pool, running, 'running with two steps done', (job) => job.status === 'running' && job.progress >= 8);

          // The queued job first, while the one worker slot is surely busy: once the running job is
          // cancelled the worker is free, and would start the queued one before a second cancel.
          const cancelQueued = await cluster.client.cancelJob(queued);
          expect({ status: cancelQueued.status, job: cancelQueued.body?.status }).toEqual({ status: 200, job: 'cancelled' });
          const cancelRunning = await cluster.client.cancelJob(running);
          const atCancel = await outputCount(cluster, running);
          expect({ status: cancelRunning.status, job: cancelRunning.body?.status }).toEqual({ status: 200, job: 'cancelled' });
          expect((await cluster.client.cancelJob(running)).status).toBe(409);
          ctx.note(`cancelled job ${running} at progress ${cancelRunning.body?.progress}`);

          // The worker stops at its next step boundary: the job gains no output after the cancel (not
          // even the step under way when it came) and stays cancelled.
          await sleep(5_000);
          expect(await outputCount(cluster, running)).toBe(atCancel);
          const [afterRunning, afterQueued] = await Promise.all([cluster.client.getJob(running), cluster.client.getJob(queued)]);
          expect([afterRunning.body?.status, afterQueued.body?.status]).toEqual(['cancelled', 'cancelled']);
          expect(await outputCount(cluster, queued)).toBe(0);

          const retried = await cluster.client.retryJob(queued);
          expect({ status: retried.status, job: retried.body?.status }).toEqual({ status: 200, job: 'queued' });
          const done = await waitForJobRow(cluster.pool, queued, 'final after its retry', (job) =>
            ['completed', 'failed', 'cancelled'].includes(job.status),
          );
          expect({ status: done.status, error: done.error, outputs: done.output_image_ids.length }).toEqual({
            status: 'completed',
            error: null,
            outputs: 2,
          });
          // The API validated, created, cancelled and retried these jobs with the job core alone:
          // sharp and libvips are never mapped into it (uploads get a structural check that decodes no pixel).
          expect(readFileSync(`/proc/${cluster.api!.pid}/maps`, 'utf8')).not.toMatch(/sharp|vips/);
          expect((await cluster.client.retryJob(queued)).status).toBe(409);
          expect((await cluster.client.cancelJob(queued)).status).toBe(409);
        }),
      SCENARIO_TIMEOUT,
    );

    it(
      '7. a job past its timeout on its last attempt fails "Timed out" and records nothing after it',
      () =>
        runScenario(backend, 'timeout', async (ctx) => {
          const cluster = await ctx.cluster('c');
          const { imageId } = await startedCluster(cluster, { workers: 1, image: images.large });
          const [slow] = await cluster.submit(1, () => ({ ...heavy(imageId, { timeout: 1, attempts: 1 }), job_type: LONGEST_STEPS }));
          const job = await waitForJobRow(
            cluster.pool,
            slow,
            'final',
            (row) => ['completed', 'failed', 'cancelled'].includes(row.status),
            60_000,
          );
          expect({ status: job.status, timedOut: /Timed out/.test(job.error ?? '') }).toEqual({ status: 'failed', timedOut: true });
          ctx.note(`job ${slow}: ${job.status} (${job.error}) with ${await outputCount(cluster, slow)} outputs`);
          // A worker still grinding through the steps would add outputs now.
          const stayed = await outputsStayPut(cluster.pool, slow, 4_000);
          expect(stayed.after).toBe(stayed.before);
          // And the worker is free for the next job.
          const small = await cluster.upload(await images.small());
          const [next] = await cluster.submit(1, () => light(small));
          const after = await waitForJobRow(
            cluster.pool,
            next,
            'final',
            (row) => ['completed', 'failed', 'cancelled'].includes(row.status),
            60_000,
          );
          expect(after.status).toBe('completed');
        }),
      SCENARIO_TIMEOUT,
    );

    it(
      '8. the source image deleted while its jobs run and wait: they fail saying so',
      () =>
        runScenario(backend, 'source image deleted', async (ctx) => {
          const cluster = await ctx.cluster('c', { WORKER_CONCURRENCY: '1' });
          const { imageId } = await startedCluster(cluster, { workers: 1, image: images.large });
          const [running, queued] = await cluster.submit(2, () => heavy(imageId), 1);
          await waitForJobRow(cluster.pool, running, 'running with a step done', (job) => job.status === 'running' && job.progress >= 4);
          const deleted = await cluster.client.deleteImage(imageId);
          expect(deleted.status).toBe(200);
          ctx.note(`deleted image ${imageId}`);
          const message = `Source image ${imageId} was deleted`;
          for (const id of [running, queued]) {
            const job = await waitForJobRow(
              cluster.pool,
              id,
              'final',
              (row) => ['completed', 'failed', 'cancelled'].includes(row.status),
              90_000,
            );
            ctx.note(`job ${id}: ${job.status} ${job.error ?? ''}`);
            if (id === queued || job.status !== 'completed') {
              expect({ status: job.status, says: job.error?.includes(message) }).toEqual({ status: 'failed', says: true });
            }
          }
        }),
      SCENARIO_TIMEOUT,
    );

    it(
      '9. SIGTERM to the workers with jobs running: they stop within the grace, nothing stays running, new workers complete all',
      () =>
        runScenario(backend, 'worker SIGTERM', async (ctx) => {
          const grace = 1;
          const cluster = await ctx.cluster('c', { SHUTDOWN_GRACE: String(grace) });
          const { imageId, workers } = await startedCluster(cluster, { workers: 2, image: images.medium });
          const large = await cluster.upload(await images.large());
          // Two jobs far longer than the grace, then many short ones.
          const long = await cluster.submit(2, () => ({ ...heavy(large), job_type: LONGEST_STEPS }), 1);
          await cluster.submit(30, () => medium(imageId), 6);
          for (const id of long) await waitForJobRow(cluster.pool, id, 'running', (job) => job.status === 'running' && job.progress > 0);
          const counts = await inFlight(cluster, { running: 3, completed: 3 });
          const sent = Date.now();
          const exits = await Promise.all(workers.map((worker) => worker.signal('SIGTERM', (grace + 30) * 1000)));
          const seconds = (Date.now() - sent) / 1000;
          ctx.note(`SIGTERM with jobs ${JSON.stringify(counts)}: exits ${JSON.stringify(exits)} after ${seconds.toFixed(1)} s`);
          expect(exits).toEqual(workers.map(() => ({ code: 0, signal: null })));
          expect(seconds).toBeLessThan(grace + 10);
          // Unfinished jobs were handed back: none stays running with no worker left.
          const handedBack = await pollUntil(
            'no job to be running once the workers stopped',
            async () => {
              const now = await statusCounts(cluster.pool);
              return (now.running ?? 0) === 0 ? now : undefined;
            },
            15_000,
            200,
          ).catch(async (error) => {
            throw new Error(`${(error as Error).message}: ${JSON.stringify(await statusCounts(cluster.pool))}`);
          });
          ctx.note(`after the stop: ${JSON.stringify(handedBack)}`);
          const { rows: longAfter } = await cluster.pool.query('SELECT id, status FROM jobs WHERE id = ANY($1) ORDER BY id', [long]);
          expect(longAfter).toEqual(long.map((id) => ({ id, status: 'queued' })));
          cluster.startWorker();
          cluster.startWorker();
          ctx.faultsOver();
          expect(await allFinal(cluster, 120_000)).toEqual({ completed: 32 });
        }),
      SCENARIO_TIMEOUT,
    );
  },
);
