/*
 * Issue 21's cluster test (`npm run test:cluster`): Darkroom run as several machines run it, on
 * this one. Two API nodes behind a round-robin load balancer that skips a node whose readiness is
 * 503, three worker nodes with a DATA_DIR each, STORAGE=s3 on s3rver, one PostgreSQL database and
 * one queue backend; every node a real OS process started from dist/, all started at the same
 * moment on an empty database. On each queue backend in turn (a file each):
 * 1. the design document's single transaction, each request on another node;
 * 2. control across nodes: sign-out, the shared sign-in limit, cancel; and state they share:
 *    event replay with Last-Event-ID, a webhook, a quota, the queue depth in /metrics;
 * 3. a wrong node (a worker with local storage) is refused, naming the setting;
 * 4. load with faults: 8 clients for 60 s through the balancer while nodes are killed, Redis loses
 *    its data and every node is restarted in turn with SIGTERM (a client following a long job's
 *    events on a node being stopped resumes them on another); then every acknowledged upload and
 *    job must be there, and the fault suite's invariants hold (nothing lost or duplicated).
 * The table printed at the end counts the requests and the jobs.
 */
import { Logger } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEventStream } from '../utils/event-streams';
import { ADMIN_TOKEN, Backend } from '../utils/faults/cluster';
import { ApiClient } from '../utils/faults/http';
import { checkInvariants, waitUntilAllFinal } from '../utils/faults/invariants';
import { liveProcesses, pollUntil, sleep, WORKER_MAIN } from '../utils/faults/processes';
import { startPrivateRedis } from '../utils/faults/redis-server';
import { FINAL_BOUND_MS, images, runScenario, ScenarioContext } from '../utils/faults/scenario';
import { startS3ServerProcess } from '../../bench/s3-server';
import { installed } from '../setup/required-tools';
import { Acknowledged, distinctPhoto, emptyCounts, LoadClient, RequestCounts, sha256 } from './load-clients';
import { emptyDatabaseServer, Node, s3Settings, ScaledDeployment } from './scaled-deployment';

const BUCKET = 'darkroom-cluster';
const STEPS = ['grayscale', 'histogram'];
const LOAD_SECONDS = 60;
const CLIENTS = 8;
/** Each client uploads a photo and creates a job at most this often. */
const CLIENT_PERIOD_MS = 2_000;
const INSTALL_REDIS = 'apt-get install redis-server';

interface Row {
  backend: string;
  requests: RequestCounts;
  jobsAcknowledged: number;
  completedOnce: number;
  lost: number;
  duplicated: number;
  /** The longest any job took to become final, counted from the end of the last fault (or its creation, if later). */
  longestToFinalSeconds: number;
}

const rows: Row[] = [];
/** How long after a sign-out on node A node B still took the token, per backend. */
const signOutDelays: string[] = [];

/** The test on one queue backend: each backend's file (redis.cluster-spec.ts, postgres.cluster-spec.ts) calls it. */
export function describeScaledSystem(name: 'redis' | 'postgres'): void {
  beforeAll(() => {
    Logger.overrideLogger(['error', 'warn']);
  });

  afterAll(async () => {
    await Promise.all(liveProcesses().map((child) => child.kill()));
    if (rows.length) console.log(`The scaled system under load with faults (${LOAD_SECONDS} s, ${CLIENTS} clients):\n${formatTable(rows)}`);
    if (signOutDelays.length) console.log(`A sign-out on node A refused on node B after: ${signOutDelays.join(', ')}`);
  });

  describe(`the scaled system on the ${name} queue backend`, () => {
    it('serves any request on any node, refuses a wrong node and loses nothing under load with faults', async () => {
      const redis = name === 'redis' ? installed(await startPrivateRedis(), 'redis-server', INSTALL_REDIS) : null;
      const s3 = await startS3ServerProcess(BUCKET);
      const backend: Backend = { name, redisUrl: redis?.url };
      try {
        await runScenario(
          backend,
          'scaled system',
          async (ctx) => {
            const cluster = await ctx.cluster('c', {
              ...s3Settings(s3.endpoint, BUCKET),
              // Sign-ins and sign-ups keep their default limit, counted per client address: the
              // balancer passes each client's on in X-Forwarded-For, which the nodes trust.
              AUTH_RATE_LIMIT: '10',
              TRUST_PROXY: 'loopback',
              SHUTDOWN_GRACE: '10',
              SHUTDOWN_DRAIN: '3',
              // The webhook's receiver is the test process, on this machine.
              ALLOW_HTTP_WEBHOOKS: 'true',
              WEBHOOK_SECRET_KEY: 'cluster-test-webhook-secret-key-0123456789',
            });
            const deployment = await ScaledDeployment.start(cluster);
            ctx.note(`every node serving; the balancer at ${deployment.url}`);
            try {
              await migratedOnce(deployment);
              await hoppingTransaction(deployment);
              ctx.note('the single transaction hopped nodes');
              const signOutDelayMs = await crossNodeControl(deployment);
              ctx.note(`sign-out (refused on the other node after ${signOutDelayMs} ms), the sign-in limit and cancel worked across nodes`);
              signOutDelays.push(`${name}: ${signOutDelayMs} ms`);
              await sharedState(deployment);
              ctx.note('event replay, a webhook, a quota and the queue depth were the same on every node');
              await wrongNode(deployment);
              ctx.note('a worker with local storage was refused');
              rows.push(await loadWithFaults(deployment, ctx, redis));
            } finally {
              await deployment.stop();
            }
          },
          { server: async () => emptyDatabaseServer() },
        );
      } finally {
        await s3.stop();
        await redis?.close();
      }
    }, 900_000);
  });
}

/** Five nodes started together on an empty database: every migration ran once, by one of them. */
async function migratedOnce(deployment: ScaledDeployment): Promise<void> {
  const { rows: counts } = await deployment.cluster.pool.query<{ name: string; n: number }>(
    'SELECT name, count(*)::int AS n FROM migrations GROUP BY name',
  );
  expect(counts.length).toBeGreaterThan(0);
  expect(counts.filter((row) => row.n !== 1)).toEqual([]);
  const migrators = deployment.cluster.processes.filter((child) => /Migrated the database/.test(child.log()));
  expect(migrators.map((child) => child.name)).toHaveLength(1);
}

/**
 * "A Single Transaction – Scaled System": one client, each request on the next node: sign up,
 * create the image and get a presigned URL, PUT the photo straight to S3 and report it, create the
 * job, follow its events on another node, download the outputs from a third (the balancer).
 */
async function hoppingTransaction(deployment: ScaledDeployment): Promise<void> {
  const [a, b] = deployment.apis.map((api) => new ApiClient(api.url));
  const username = `hop${process.pid}${Date.now().toString(36)}`;
  const token = (await a.signUp(username)).token!;
  const onA = a.withToken(token);
  const onB = b.withToken(token);
  const image = await onB.expect(201, 'POST', '/api/images.json', {});
  const grant = await onA.expect(200, 'POST', `/api/images/${image.id}/upload_url`, { content_type: 'image/png' });
  const photo = await distinctPhoto(0);
  const put = await fetch(grant.url, { method: 'PUT', body: photo, headers: { 'Content-Type': 'image/png' } });
  expect(put.status).toBe(200);
  expect(await onB.expect(200, 'PUT', `/api/images/${image.id}.json`, { id: image.id, s3_key: grant.s3_key })).toMatchObject({
    status: 'original stored',
  });
  const job = await onA.expect(201, 'POST', '/api/jobs.json', { image_id: image.id, job_type: STEPS });
  const stream = await readEventStream(`${deployment.apis[1].url}/api/jobs/${job.id}/events`, {
    headers: { Authorization: `Bearer ${token}` },
    timeoutMs: 60_000,
  });
  expect(stream.status).toBe(200);
  const statuses = stream.events.filter((event) => event.event === 'status').map((event) => event.data.status);
  expect(statuses[statuses.length - 1]).toBe('completed');
  expect(stream.ended).toBe(true);
  const completed = stream.events[stream.events.length - 1].data;
  expect(completed.outputs).toHaveLength(STEPS.length);
  const third = new ApiClient(deployment.url, token);
  for (const output of completed.outputs as number[]) {
    const file = await fetch(`${third.baseUrl}/api/images/${output}/file`, { headers: { Authorization: `Bearer ${token}` } });
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBeGreaterThan(0);
  }
  const original = await fetch(`${deployment.url}/api/images/${image.id}/file`, { headers: { Authorization: `Bearer ${token}` } });
  expect(sha256(Buffer.from(await original.arrayBuffer()))).toBe(sha256(photo));
}

/**
 * A sign-out on node A refuses the token on node B at once; failed sign-ins spread over both
 * nodes meet one limit; a job created on A and cancelled through B stops on the worker running it.
 */
async function crossNodeControl(deployment: ScaledDeployment): Promise<number> {
  const [a, b] = deployment.apis.map((api) => new ApiClient(api.url));
  const username = `ctl${process.pid}${Date.now().toString(36)}`;
  const credentials = { username, email: `${username}@example.com`, password: 'password123' };
  const owner = await a.signUp(username);

  const device = await b.expect(200, 'POST', '/api/sessions.json', { username, password: credentials.password });
  expect((await b.withToken(device.authentication_token).request('GET', '/api/users/me.json')).status).toBe(200);
  await a.withToken(device.authentication_token).expect(200, 'DELETE', '/api/sessions/current.json');
  // Node B drops its cached entry when PostgreSQL's notice of the commit reaches it (docs/api.md,
  // "Sessions"): milliseconds, which is what "at once" can mean without a query per request.
  const signedOut = Date.now();
  await pollUntil(
    'node B to refuse the signed-out token',
    async () => (await b.withToken(device.authentication_token).request('GET', '/api/users/me.json')).status === 401,
    1_000,
    2,
  );
  const signOutDelayMs = Date.now() - signedOut;

  // The limit counts per client address (X-Forwarded-For, trusted from the loopback balancer).
  const statuses: number[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    const node = deployment.apis[attempt % 2].url;
    const answer = await fetch(`${node}/api/sessions.json`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.21' },
      body: JSON.stringify({ username, password: 'wrong-password' }),
    });
    statuses.push(answer.status);
  }
  expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);

  const large = await owner.uploadImage(await images.large());
  // Long enough to outlast the node's drain (SHUTDOWN_DRAIN, 3 s) by far: an interactive job
  // starts at once under fair dispatch, and 24 steps at sigma 20 once ended 60 ms before the drain.
  const steps = Array.from({ length: 32 }, (_, i) => (i % 2 ? 'edges' : 'blur'));
  const job = await owner.expect(201, 'POST', '/api/jobs.json', { image_id: large.id, job_type: steps, params: { blur: { sigma: 60 } } });
  const runner = await pollUntil(
    `job ${job.id} to start on a worker`,
    async () => deployment.workers.find((worker) => new RegExp(`Job ${job.id} started`).test(worker.process!.log())),
    60_000,
    50,
  );
  const cancelled = await b.withToken(owner.token!).expect(200, 'POST', `/api/jobs/${job.id}/cancel`);
  expect(cancelled.status).toBe('cancelled');
  await pollUntil(
    `${runner.name} to stop job ${job.id}`,
    async () => new RegExp(`Job ${job.id}: attempt \\d+ stopped`).test(runner.process!.log()),
    15_000,
    50,
  );
  return signOutDelayMs;
}

/**
 * What the nodes share, read on one and written on the other: a job's events followed on A and
 * resumed on B with Last-Event-ID; a webhook secret sealed by A, a job with a callback created on
 * B, delivered once by whichever worker, signed with that secret; with the workers stopped, a
 * quota of 3 jobs in progress that counts the jobs made on both nodes, and the queue depth that
 * both nodes' /metrics report.
 */
async function sharedState(deployment: ScaledDeployment): Promise<void> {
  const [a, b] = deployment.apis.map((api) => new ApiClient(api.url));
  const username = `shr${process.pid}${Date.now().toString(36)}`;
  const owner = await a.signUp(username);
  const onB = b.withToken(owner.token!);
  const auth = { Authorization: `Bearer ${owner.token}` };
  const image = await owner.uploadImage(await distinctPhoto(-1));

  const job = await onB.expect(201, 'POST', '/api/jobs.json', {
    image_id: image.id,
    job_type: ['grayscale', 'blur', 'edges', 'histogram'],
  });
  const first = await readEventStream(`${deployment.apis[0].url}/api/jobs/${job.id}/events`, {
    headers: auth,
    until: (events) => events.length >= 2,
  });
  const lastSeen = first.events[first.events.length - 1].id!;
  const rest = await readEventStream(`${deployment.apis[1].url}/api/jobs/${job.id}/events`, {
    headers: { ...auth, 'Last-Event-ID': lastSeen },
  });
  const ids = [...first.events, ...rest.events].map((event) => Number(event.id));
  expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y));
  expect(rest.events[rest.events.length - 1].data).toMatchObject({ status: 'completed' });
  expect([...first.events, ...rest.events].filter((event) => event.event === 'progress')).toHaveLength(4);

  const deliveries: { id: string; timestamp: string; signature: string; body: string }[] = [];
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      deliveries.push({
        id: String(request.headers['webhook-id']),
        timestamp: String(request.headers['webhook-timestamp']),
        signature: String(request.headers['webhook-signature']),
        body,
      });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  try {
    const me = await owner.expect(200, 'GET', '/api/users/me.json');
    const { secret } = await owner.expect(201, 'POST', `/api/users/${me.id}/webhook_secret`);
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const hooked = await onB.expect(201, 'POST', '/api/jobs.json', {
      image_id: image.id,
      job_type: ['grayscale'],
      callback_url: hook,
      force: true,
    });
    await pollUntil('the webhook delivery', async () => deliveries.length > 0, 30_000, 50);
    await sleep(1_000);
    expect(deliveries).toHaveLength(1);
    const [delivery] = deliveries;
    expect(JSON.parse(delivery.body)).toMatchObject({ id: hooked.id, status: 'completed' });
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const expected = createHmac('sha256', key).update(`${delivery.id}.${delivery.timestamp}.${delivery.body}`).digest('base64');
    expect(delivery.signature.split(' ')).toContain(`v1,${expected}`);
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }

  await Promise.all(deployment.workers.map((worker) => deployment.stopGracefully(worker)));
  try {
    await a.withToken(ADMIN_TOKEN).expect(200, 'PUT', `/api/users/${(await owner.expect(200, 'GET', '/api/users/me.json')).id}.json`, {
      max_jobs_in_progress: 3,
    });
    const body = { image_id: image.id, job_type: ['grayscale'], force: true };
    for (const client of [owner, onB, owner]) await client.expect(201, 'POST', '/api/jobs.json', body);
    expect((await onB.createJob(body)).status).toBe(429);
    // The backlog is pending (no entry yet) plus waiting (an entry): the dispatcher hands out
    // entries after the request, and each node caches its reading for 2 s, so both are polled.
    const backlog = async (api: { url: string }) => {
      const text = await (await fetch(`${api.url}/metrics`)).text();
      return text
        .split('\n')
        .filter((row) => /^darkroom_queue_jobs\{/.test(row) && /queue="process"/.test(row) && /state="(pending|waiting)"/.test(row))
        .reduce((sum, row) => sum + Number(row.split(' ').pop()), 0);
    };
    let depths: number[] = [];
    await pollUntil(
      'every node to report the backlog of 3',
      async () => {
        depths = await Promise.all(deployment.apis.map(backlog));
        return depths.every((depth) => depth === 3);
      },
      10_000,
      200,
    ).catch(() => undefined);
    expect(depths).toEqual([3, 3]);
  } finally {
    for (const worker of deployment.workers) deployment.launch(worker);
    await Promise.all(deployment.workers.map((worker) => deployment.waitUntilServing(worker)));
  }
}

/** A worker configured with local storage, joining this S3 installation, does not start: it names STORAGE. */
async function wrongNode(deployment: ScaledDeployment): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'darkroom-wrong-node-'));
  const wrong = deployment.cluster.startProcess('wrong-worker', WORKER_MAIN, [], { STORAGE: 'local', DATA_DIR: dataDir });
  wrong.exitExpected = true;
  const exit = await wrong.exited;
  expect(exit.code).toBe(1);
  expect(wrong.log()).toMatch(/STORAGE/);
  expect(wrong.log()).not.toMatch(/Serving queues/);
}

/**
 * 8 clients upload photos (multipart or presigned, in turn) and create jobs through the balancer
 * for LOAD_SECONDS, each at most one photo and job every CLIENT_PERIOD_MS; meanwhile an API node is killed and
 * restarted, a worker is killed twice, Redis restarts without its data (on Redis), and every node
 * is then restarted in turn with SIGTERM. Every answer the balancer gave 2xx must have its effect.
 */
async function loadWithFaults(
  deployment: ScaledDeployment,
  ctx: ScenarioContext,
  redis: { restart(): Promise<void> } | null,
): Promise<Row> {
  const cluster = deployment.cluster;
  const requests = emptyCounts();
  const acknowledged: Acknowledged = { images: [], jobs: [] };
  const clients = Array.from({ length: CLIENTS }, (_, i) => new LoadClient(deployment.url, `198.51.100.${i + 1}`, requests, acknowledged));
  await Promise.all(clients.map((client, i) => client.signUp(`load${i}x${process.pid}${Date.now().toString(36)}`)));
  expect(clients.filter((client) => !client.token)).toEqual([]);

  let running = true;
  let serial = 0;
  const loops = clients.map(async (client) => {
    while (running) {
      const started = Date.now();
      const photo = await distinctPhoto(++serial);
      const imageId = serial % 2 ? await client.uploadMultipart(photo) : await client.uploadPresigned(photo);
      if (imageId !== null) {
        const jobId = await client.createJob(imageId, STEPS);
        if (jobId !== null) await client.call('GET', `/api/jobs/${jobId}.json`);
      }
      await sleep(Math.max(0, CLIENT_PERIOD_MS - (Date.now() - started)));
    }
  });

  // Two tracks side by side, one node at a time in each, so that an API node always serves:
  // the API nodes (a SIGKILL, then each restarted with SIGTERM), and the workers and Redis.
  const loadStarted = Date.now();
  const at = (seconds: number) => sleep(Math.max(0, loadStarted + seconds * 1000 - Date.now()));
  const [apiA, apiB] = deployment.apis;
  const [workerA, workerB, workerC] = deployment.workers;
  const step = async (what: string, action: () => Promise<void>) => {
    ctx.note(`${what}: begins`);
    await action();
    ctx.note(`${what}: done, serving again`);
  };
  const apiTrack = async () => {
    await at(6);
    await step('SIGKILL api-a, restarted 2 s later', () => deployment.crash(apiA, 2_000));
    const follower = await followEventsOn(deployment, apiB);
    await step('SIGTERM api-b, then a new process', () => deployment.restartGracefully(apiB));
    await step('SIGTERM api-a, then a new process', () => deployment.restartGracefully(apiA));
    await follower();
  };
  const workerTrack = async () => {
    await at(12);
    await step('SIGKILL worker-a, restarted 1 s later', () => deployment.crash(workerA, 1_000));
    if (redis) {
      await at(20);
      await step('Redis restarted without its data', () => redis.restart());
    }
    await at(24);
    await step('SIGKILL worker-a again, restarted 1 s later', () => deployment.crash(workerA, 1_000));
    for (const worker of [workerB, workerC, workerA]) {
      await step(`SIGTERM ${worker.name}, then a new process`, () => deployment.restartGracefully(worker));
    }
  };
  let lastFault: number;
  try {
    await Promise.all([apiTrack(), workerTrack()]);
    ctx.faultsOver();
    lastFault = Date.now();
    await at(LOAD_SECONDS);
  } finally {
    running = false;
    await Promise.all(loops);
  }
  ctx.note(`load over: ${requests.sent} requests, ${acknowledged.jobs.length} jobs acknowledged`);

  expect(await waitUntilAllFinal(cluster.pool, FINAL_BOUND_MS)).toBe(true);
  // Each job from the last fault on, or from its creation when that came later.
  const { rows: longest } = await cluster.pool.query<{ seconds: number | null }>(
    'SELECT max(extract(epoch FROM finished_at - greatest(created_at, to_timestamp($1 / 1000.0))))::float AS seconds FROM jobs',
    [lastFault!],
  );
  cluster.acceptedIds.push(...acknowledged.jobs.map((job) => job.id));

  const effects = await missingEffects(deployment, acknowledged);
  const report = await checkInvariants(cluster.pool, cluster.acceptedIds);
  const { rows: statuses } = await cluster.pool.query<{ id: number; status: string }>('SELECT id, status FROM jobs WHERE id = ANY($1)', [
    cluster.acceptedIds,
  ]);
  const row: Row = {
    backend: ctx.backend.name,
    requests,
    jobsAcknowledged: acknowledged.jobs.length,
    completedOnce: statuses.filter((job) => job.status === 'completed').length - report.tally.duplicated,
    lost: report.tally.lost,
    duplicated: report.tally.duplicated,
    longestToFinalSeconds: Math.max(0, longest[0].seconds ?? 0),
  };
  expect({ rejections: requests.rejections, effects, violations: report.violations }).toEqual({
    rejections: [],
    effects: [],
    violations: [],
  });
  expect(row.completedOnce).toBe(row.jobsAcknowledged);
  return row;
}

/**
 * A client following a long job's events on `node`, which is about to get SIGTERM: once the node's
 * drain is over, its stream must end with a `retry:` hint before the job does, and the client,
 * reconnecting through the balancer (to another node) with Last-Event-ID, must get the rest, none
 * missed or repeated. Resolves once the stream is open; the function it answers checks the rest.
 */
async function followEventsOn(deployment: ScaledDeployment, node: Node): Promise<() => Promise<void>> {
  const owner = await new ApiClient(deployment.apis[0].url).signUp(`sse${process.pid}${Date.now().toString(36)}`);
  const auth = { Authorization: `Bearer ${owner.token}` };
  const large = await owner.uploadImage(await images.large());
  // Long enough to outlast the node's drain (SHUTDOWN_DRAIN, 3 s) by far: an interactive job
  // starts at once under fair dispatch, and 24 steps at sigma 20 once ended 60 ms before the drain.
  const steps = Array.from({ length: 32 }, (_, i) => (i % 2 ? 'edges' : 'blur'));
  const job = await owner.expect(201, 'POST', '/api/jobs.json', { image_id: large.id, job_type: steps, params: { blur: { sigma: 60 } } });
  let opened: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const cut = readEventStream(`${node.url}/api/jobs/${job.id}/events`, { headers: auth, timeoutMs: 180_000, onEvent: () => opened() });
  await Promise.race([open, cut]);
  return async () => {
    const first = await cut;
    expect(first.ended).toBe(true);
    expect(first.retries).toHaveLength(1);
    const last = first.events[first.events.length - 1];
    expect(['completed', 'failed', 'cancelled']).not.toContain(last.data.status);
    const rest = await readEventStream(`${deployment.url}/api/jobs/${job.id}/events`, {
      headers: { ...auth, 'Last-Event-ID': last.id! },
      timeoutMs: 180_000,
    });
    const events = [...first.events, ...rest.events];
    const ids = events.map((event) => Number(event.id));
    expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y));
    expect(events.filter((event) => event.event === 'progress')).toHaveLength(steps.length);
    expect(rest.events[rest.events.length - 1].data).toMatchObject({ status: 'completed' });
  };
}

/** Each acknowledged upload reads back byte for byte, and each acknowledged job's outputs download. */
async function missingEffects(deployment: ScaledDeployment, acknowledged: Acknowledged): Promise<string[]> {
  const missing: string[] = [];
  // As a client would, a read refused retryably (a node restarting, none ready for a moment) is tried again.
  const read = async (path: string, token: string) => {
    for (let attempt = 1; ; attempt++) {
      const answer = await fetch(`${deployment.url}${path}`, { headers: { Authorization: `Bearer ${token}` } }).catch(() => null);
      const body = answer ? Buffer.from(await answer.arrayBuffer()) : Buffer.alloc(0);
      if ((answer && answer.status !== 503) || attempt === 40) return { status: answer?.status ?? 0, body };
      await sleep(250);
    }
  };
  const checks = [
    ...acknowledged.images.map((image) => async () => {
      const file = await read(`/api/images/${image.id}/file`, image.token);
      if (file.status !== 200 || sha256(file.body) !== image.sha256)
        missing.push(`image ${image.id}: ${file.status}, not the bytes uploaded: ${file.body.toString().slice(0, 200)}`);
    }),
    ...acknowledged.jobs.map((job) => async () => {
      const download = await read(`/api/jobs/${job.id}/download`, job.token);
      if (download.status !== 200 || download.body.length === 0)
        missing.push(`job ${job.id}: its download answered ${download.status}: ${download.body.toString().slice(0, 200)}`);
    }),
  ];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let index = next++; index < checks.length; index = next++) await checks[index]();
    }),
  );
  return missing;
}

function formatTable(table: Row[]): string {
  const header = [
    'backend',
    'requests sent',
    '2xx',
    'refused retryably',
    'cut by a node dying',
    'refused non-retryably',
    'jobs acknowledged',
    'completed exactly once',
    'lost',
    'duplicated',
    'longest to final after last fault',
  ];
  const cells = table.map((row) => [
    row.backend,
    String(row.requests.sent),
    String(row.requests.ok),
    String(row.requests.refused),
    String(row.requests.cut),
    String(row.requests.rejected),
    String(row.jobsAcknowledged),
    String(row.completedOnce),
    String(row.lost),
    String(row.duplicated),
    `${row.longestToFinalSeconds.toFixed(1)} s`,
  ]);
  const line = (values: string[]) => `| ${values.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...cells.map(line)].join('\n');
}
