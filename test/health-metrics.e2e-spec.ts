/**
 * Health and metrics, on both queue backends: liveness, readiness with each component's status
 * (and 503 once PostgreSQL is stopped, on a private server: never the machine's), the API's
 * GET /metrics (queue depth, job counters, HTTP requests by route) and a worker's own metrics port,
 * both behind METRICS_TOKEN.
 */
import { INestApplicationContext, Logger } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import { createServer, Server, Socket } from 'node:net';
import { Pool } from 'pg';
import { freePort } from '../src/common/free-port';
import { JobReconciler } from '../src/job-runs/job-reconciler';
import { createStoredImage, createUser, TestUser } from './utils/factories';
import { availableBackends } from './utils/faults/cluster';
import { PrivateDatabaseServer, ScenarioDatabase, startPrivateEmbeddedServer } from './utils/faults/postgres';
import { pollUntil } from './utils/faults/processes';
import { deleteInstallationKeys, readInstallationId } from './utils/faults/queue-store';
import { createSuiteDatabase } from './utils/suite-database';
import { api, bearer, createTestApp, startTestWorker, testEnv, TestEnv, waitForJob } from './utils/test-app';

const METRICS_TOKEN = 'metrics-token-for-the-e2e-suite';
const STEPS = ['grayscale', 'histogram'];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments left out). */
function parseExposition(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`Not a Prometheus sample line: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
      );
      return { name: match[1], labels, value: Number(match[3]) };
    });
}

/** The one sample of `name` whose labels include `labels`; undefined when there is none. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

async function scrapeApi(app: NestExpressApplication): Promise<Sample[]> {
  const response = await api(app).get('/metrics').set(bearer(METRICS_TOKEN)).expect(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain;.*\bversion=0\.0\.4\b/);
  return parseExposition(response.text);
}

async function scrapeWorker(port: number, headers: Record<string, string> = bearer(METRICS_TOKEN)): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/metrics`, { headers });
}

beforeAll(() => {
  // The suite's own migrations (createSuiteDatabase) need not log every step.
  Logger.overrideLogger(['error', 'warn']);
});

describe.each(availableBackends())('health and metrics, queue on $name', (backend) => {
  let database: { url: string; drop(): Promise<void> };
  let env: TestEnv;
  let app: NestExpressApplication;
  let worker: INestApplicationContext | undefined;
  let workerPort: number;
  let owner: TestUser;
  let imageId: number;

  beforeAll(async () => {
    // A database of the suite's own: no other suite's reconciler queues its jobs elsewhere, so the
    // queue holds exactly what this suite created.
    database = await createSuiteDatabase(`health_metrics_${backend.name}`);
    workerPort = await freePort();
    env = testEnv({ DATABASE_URL: database.url, REDIS_URL: backend.redisUrl, METRICS_TOKEN, WORKER_METRICS_PORT: String(workerPort) });
    app = await createTestApp(env);
    owner = await createUser(app);
    imageId = (await createStoredImage(app, owner)).id;
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await app?.close();
    if (backend.redisUrl) {
      const pool = new Pool({ connectionString: database.url, max: 1 });
      const installation = await readInstallationId(pool).finally(() => pool.end());
      await deleteInstallationKeys(backend.redisUrl, installation);
    }
    await database?.drop();
  });

  it('answers liveness and readiness without credentials, with each component up', async () => {
    expect((await api(app).get('/api/health').expect(200)).body).toEqual({ status: 'ok' });
    const { body } = await api(app).get('/api/health/ready').expect(200);
    expect(body.status).toBe('ok');
    expect(body.error).toEqual({});
    expect(body.details).toEqual({
      database: { status: 'up', responseTime: expect.any(Number) },
      queue: { status: 'up', backend: backend.name, responseTime: expect.any(Number) },
      storage: { status: 'up', driver: 'local', responseTime: expect.any(Number) },
    });
  });

  it('refuses GET /metrics without METRICS_TOKEN, as a bearer header or ?token=', async () => {
    const missing = await api(app).get('/metrics').expect(401);
    expect(missing.body.error).toMatch(/METRICS_TOKEN/);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    await api(app).get('/metrics').set(bearer('not-the-metrics-token')).expect(401);
    await api(app).get('/metrics').query({ token: 'not-the-metrics-token' }).expect(401);
    // A user's bearer token (or the ADMIN_TOKEN) is not the metrics token.
    await api(app).get('/metrics').set(bearer(owner.token)).expect(401);
    await api(app).get('/metrics').query({ token: METRICS_TOKEN }).expect(200);
    await api(app).get('/metrics').set(bearer(METRICS_TOKEN)).expect(200);
  });

  it('reports the queue depth of the jobs created while no worker runs, and counts them by pipeline kind', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 4; i++) {
      ids.push(
        (await api(app).post('/api/jobs.json').set(bearer(owner.token)).send({ image_id: imageId, job_type: STEPS }).expect(201)).body.id,
      );
    }
    await api(app).post(`/api/jobs/${ids[3]}/cancel`).set(bearer(owner.token)).expect(200);
    await api(app).get('/api/no/such/route/42').set(bearer(owner.token)).expect(404);

    // An earlier scrape's reading may still be cached for a moment.
    const samples = await pollUntil(
      'the queue depth to count the 3 waiting jobs',
      async () => {
        const scraped = await scrapeApi(app);
        return valueOf(scraped, 'darkroom_queue_jobs', { queue: 'process', state: 'waiting' }) === 3 ? scraped : undefined;
      },
      30_000,
      250,
    );
    for (const state of ['active', 'delayed', 'failed'])
      expect(valueOf(samples, 'darkroom_queue_jobs', { queue: 'process', state })).toBe(0);
    expect(valueOf(samples, 'darkroom_queue_jobs', { queue: 'query', state: 'waiting' })).toBe(0);
    // From PostgreSQL: the jobs no queue entry was given yet, and the pause an admin sets.
    expect(valueOf(samples, 'darkroom_queue_jobs', { queue: 'query', state: 'pending' })).toBe(0);
    expect(valueOf(samples, 'darkroom_queue_paused', { queue: 'process' })).toBe(0);
    expect(valueOf(samples, 'darkroom_jobs_created_total', { operation: 'process' })).toBe(4);
    expect(valueOf(samples, 'darkroom_jobs_cancelled_total', { operation: 'process' })).toBe(1);
    // By route pattern, whatever the id or the .json suffix; an unknown URL under one label.
    expect(valueOf(samples, 'darkroom_http_requests_total', { method: 'POST', route: '/api/jobs', status: '201' })).toBe(4);
    expect(valueOf(samples, 'darkroom_http_requests_total', { method: 'POST', route: '/api/jobs/:id/cancel', status: '200' })).toBe(1);
    expect(valueOf(samples, 'darkroom_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(valueOf(samples, 'darkroom_http_request_duration_seconds_count', { method: 'POST', route: '/api/jobs', status: '201' })).toBe(4);
    expect(samples.some((sample) => sample.labels.route?.includes('42'))).toBe(false);
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts the jobs that fail in the API process: their source image deleted, their ttl passed in the queue', async () => {
    const doomed = (await createStoredImage(app, owner)).id;
    const orphan = (await api(app).post('/api/jobs.json').set(bearer(owner.token)).send({ image_id: doomed, job_type: STEPS }).expect(201))
      .body.id;
    await api(app).delete(`/api/images/${doomed}.json`).set(bearer(owner.token)).expect(200);
    expect((await api(app).get(`/api/jobs/${orphan}.json`).set(bearer(owner.token)).expect(200)).body.status).toBe('failed');
    const expiring = (
      await api(app).post('/api/jobs.json').set(bearer(owner.token)).send({ image_id: imageId, job_type: STEPS, ttl: 1 }).expect(201)
    ).body.id;
    // A pass of the reconciler fails it once its ttl has passed (this app's own periodic pass may come first).
    await pollUntil(
      `job ${expiring} to expire`,
      async () => {
        await app.get(JobReconciler).reconcile();
        return (await api(app).get(`/api/jobs/${expiring}.json`).set(bearer(owner.token)).expect(200)).body.status === 'failed';
      },
      30_000,
      250,
    );
    // Another pass finds nothing more to do, and counts nothing more.
    await app.get(JobReconciler).reconcile();
    expect(valueOf(await scrapeApi(app), 'darkroom_jobs_failed_total', { operation: 'process' })).toBe(2);
  });

  it("counts the jobs a worker completes, and times them and their steps, on the worker's own port", async () => {
    const { body: jobs } = await api(app).get('/api/jobs.json').query({ status: 'queued' }).set(bearer(owner.token)).expect(200);
    expect(jobs).toHaveLength(3);
    worker = await startTestWorker(env);
    for (const job of jobs) expect((await waitForJob(app, owner.token, job.id)).status).toBe('completed');

    expect((await scrapeWorker(workerPort, {})).status).toBe(401);
    expect((await scrapeWorker(workerPort, bearer('not-the-metrics-token'))).status).toBe(401);
    const response = await scrapeWorker(workerPort);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain;.*\bversion=0\.0\.4\b/);
    const samples = parseExposition(await response.text());
    expect(valueOf(samples, 'darkroom_jobs_completed_total', { operation: 'process' })).toBe(3);
    expect(valueOf(samples, 'darkroom_jobs_failed_total', { operation: 'process' })).toBeUndefined();
    expect(valueOf(samples, 'darkroom_job_duration_seconds_count', { operation: 'process', outcome: 'completed' })).toBe(3);
    // Three jobs of the same work on the same photo: the first computes each step, the others may reuse it.
    const steps = (operation: string) =>
      (valueOf(samples, 'darkroom_step_duration_seconds_count', { operation, reused: 'false' }) ?? 0) +
      (valueOf(samples, 'darkroom_step_duration_seconds_count', { operation, reused: 'true' }) ?? 0);
    expect(steps('grayscale')).toBe(3);
    expect(steps('histogram')).toBe(3);
    expect(valueOf(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'darkroom_queue_jobs', { queue: 'process', state: 'waiting' })).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${workerPort}/other`, { headers: bearer(METRICS_TOKEN) })).status).toBe(404);

    // A second worker on the same port starts and serves its queues all the same, without a metrics port.
    const second = await startTestWorker(env);
    await second.close();
    expect((await scrapeWorker(workerPort)).status).toBe(200);

    // The API's figure follows once its short cache has expired.
    await pollUntil(
      'the queue depth to drop to 0',
      async () => valueOf(await scrapeApi(app), 'darkroom_queue_jobs', { queue: 'process', state: 'waiting' }) === 0,
      30_000,
      250,
    );
  }, 90_000);
});

describe.each(availableBackends())('readiness when PostgreSQL stops, queue on $name', (backend) => {
  let server: PrivateDatabaseServer;
  let database: ScenarioDatabase;
  let app: NestExpressApplication;

  beforeAll(async () => {
    server = await startPrivateEmbeddedServer();
    database = await server.createDatabase(`ready_${backend.name}`);
    app = await createTestApp(testEnv({ DATABASE_URL: database.url, REDIS_URL: backend.redisUrl }));
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    if (backend.redisUrl && database) {
      const pool = new Pool({ connectionString: database.url, max: 1 });
      const installation = await readInstallationId(pool).finally(() => pool.end());
      await deleteInstallationKeys(backend.redisUrl, installation);
    }
    await server?.close();
  }, 60_000);

  it('answers 503 naming PostgreSQL while it is stopped, and 200 once it is back; liveness stays 200', async () => {
    await api(app).get('/api/health/ready').expect(200);
    await server.stop();

    const { body } = await api(app).get('/api/health/ready').expect(503);
    expect(body.status).toBe('error');
    expect(body.details.database).toMatchObject({ status: 'down', message: expect.any(String) });
    expect(body.error.database).toMatchObject({ status: 'down' });
    expect(body.details.storage).toMatchObject({ status: 'up' });
    // On the PostgreSQL backend the queue lives in that same server; Redis is still up.
    expect(body.details.queue).toMatchObject({ status: backend.name === 'postgres' ? 'down' : 'up' });
    await api(app).get('/api/health').expect(200);

    await server.start();
    await pollUntil('readiness to come back', async () => (await api(app).get('/api/health/ready')).status === 200, 60_000, 250);
  }, 120_000);
});

describe('readiness when the file store hangs', () => {
  let silent: Server;
  const sockets = new Set<Socket>();
  let app: NestExpressApplication;

  beforeAll(async () => {
    // An S3 endpoint that accepts connections and never answers: a dropped network, not a refusal.
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    app = await createTestApp(
      testEnv({
        // An installation keeps its files in one store: S3 gets a database of its own.
        DATABASE_URL: (await createSuiteDatabase('silent_s3')).url,
        STORAGE: 's3',
        S3_BUCKET: 'darkroom-silent',
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_ACCESS_KEY_ID: 'silent',
        S3_SECRET_ACCESS_KEY: 'silent-secret',
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent?.close(resolve));
  });

  it('answers 503 once the store has had its time, naming the timeout, with the others up', async () => {
    const { body } = await api(app).get('/api/health/ready').expect(503);
    expect(body.details.storage).toMatchObject({ status: 'down', message: 'timeout of 2000ms exceeded' });
    expect(body.details.database).toMatchObject({ status: 'up' });
    expect(body.details.queue).toMatchObject({ status: 'up', backend: 'postgres' });
  });
});
