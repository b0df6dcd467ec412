import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import {
  childPid,
  ingest,
  loadAverage,
  JOB_SEQUENCE,
  makePhotos,
  measureJobCost,
  PhaseFigures,
  processCpuSeconds,
  RunningWorker,
  signUp,
  sleep,
  startProduct,
  startReadyWorker,
  startRedis,
  treeCpuSeconds,
} from './bench-support';
import { S3RVER_CREDENTIALS, S3Traffic, startCountingProxy, startS3Server } from './s3-server';

/**
 * `npm run bench:cluster`: what one upload + process job costs the shared services (PostgreSQL,
 * Redis, the S3 store), and how many jobs a second 1, 2 and 3 worker processes complete, on
 * both queue backends, with the files on S3 (s3rver, reached through a counting proxy in this
 * process). docs/capacity.md turns these figures into jobs a second per PostgreSQL and Redis.
 *
 * (1) Cost: bench:statements' two phases (`measureJobCost`: the API alone takes BENCH_JOBS
 *     uploads + jobs, then a worker alone drains them) with STORAGE=s3, on a cluster that counts
 *     statements with pg_stat_statements.
 * (2) Throughput: the API (`--api-only`, a cluster as `npm start` makes it) and 1, 2, then 3
 *     worker processes started beside it, each with a DATA_DIR of its own and the default
 *     WORKER_CONCURRENCY. Each count gets a batch of BENCH_JOBS photographs never seen before,
 *     uploaded and submitted by 4 clients while the workers drain; jobs/s runs from the first
 *     job's creation to the last one's end (the database's timestamps), and the CPU of each
 *     process is read over the batch. Before each batch, IDLE_MS with every process idle measure
 *     what the waiting API and workers cost PostgreSQL and Redis. The workers share the
 *     machine's cores with everything else here, PostgreSQL and Redis included.
 *
 * Sizes: BENCH_JOBS (100) a batch, BENCH_SIZE (512) pixels square, BENCH_WORKERS (1,2,3),
 * BENCH_BACKENDS (postgresql,redis). About 4 minutes on a 2-core machine.
 *
 * Every photograph differs from every other, so no step is ever reused. The queue on Redis uses
 * a private redis-server on a free port; each product gets a bucket of its own.
 */
const JOBS = Number(process.env.BENCH_JOBS ?? 100);
const SIZE = Number(process.env.BENCH_SIZE ?? 512);
/** Which queue backends to measure: `postgresql`, `redis` or both. */
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'postgresql,redis').toLowerCase().split(',');
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,2,3').split(',').map(Number);
/** Worker metrics off, but for the throughput runs' workers: a port each, which also says when one has started. */
const SETTINGS = {
  AUTH_RATE_LIMIT: '0',
  JOB_RATE_LIMIT: '0',
  UPLOAD_RATE_LIMIT: '0',
  LOG_LEVEL: 'warn',
  WORKER_METRICS_PORT: '0',
  // On Node 20 every process's S3 client would print the SDK's notice that its 2027 releases need Node 22, between the bench's lines.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
/** What the idle workers do in their first seconds (queue set-up, a first reconciler pass) is not the batch's. */
const WORKER_SETTLE_MS = 2000;
/** How long the idle workers are watched before the batch, for what they cost PostgreSQL and Redis with no job to do. */
const IDLE_MS = 10_000;
const LABEL_WIDTH = 44;
const COLUMN_WIDTH = 30;

type Backend = 'PostgreSQL' | 'Redis';

interface Throughput {
  workers: number;
  seconds: number;
  /** CPU milliseconds a job, by process. */
  cpu: Record<string, number>;
  /** The whole machine's busy share over the batch, every process counted, in per cent of its cores. */
  machineBusy: number;
  /** CPU milliseconds a second of PostgreSQL and of Redis while the API and the workers have no job. */
  idle: Record<string, number>;
}

interface BackendFigures {
  backend: Backend;
  cost: PhaseFigures[];
  throughput: Throughput[];
}

/** An s3rver with `bucket`, a counting proxy in front of it, and the product settings that point at the proxy. */
async function withS3<T>(bucket: string, run: (env: NodeJS.ProcessEnv, proxy: { take(): S3Traffic }) => Promise<T>): Promise<T> {
  const store = await startS3Server(bucket);
  const proxy = await startCountingProxy(store.endpoint);
  try {
    return await run(
      {
        STORAGE: 's3',
        S3_BUCKET: bucket,
        S3_ENDPOINT: proxy.endpoint,
        S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      },
      proxy,
    );
  } finally {
    await proxy.stop();
    await store.stop();
  }
}

/** Busy and total CPU ticks of the whole machine so far (/proc/stat's first line). */
function machineTicks(): { busy: number; total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((sum, tick) => sum + tick, 0);
  // Idle, and waiting on I/O with nothing to run, are the cores' free time.
  return { busy: total - ticks[3] - ticks[4], total };
}

async function waitForJobs(db: Client, afterId: number, count: number): Promise<void> {
  for (;;) {
    const { rows } = await db.query(
      `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM jobs WHERE id > $1`,
      [afterId],
    );
    if (rows[0].failed > 0) throw new Error(`${rows[0].failed} jobs failed`);
    if (rows[0].completed === count) return;
    await sleep(100);
  }
}

async function measureThroughput(backend: Backend, redis: { url: string; pid: number } | null, batches: Buffer[][]): Promise<Throughput[]> {
  return withS3(`throughput-${backend.toLowerCase()}`, async (s3) => {
    const product = await startProduct({ ...SETTINGS, ...s3, ...(redis ? { REDIS_URL: redis.url } : {}) }, ['--api-only']);
    const db = new Client({ connectionString: product.databaseUrl });
    await db.connect();
    try {
      const token = await signUp(product);
      const postgresPid = childPid(product.pid, 'bin/postgres') ?? -1;
      const runs: Throughput[] = [];
      for (const [index, count] of WORKER_COUNTS.entries()) {
        const workers: RunningWorker[] = [];
        try {
          for (let started = 0; started < count; started++) workers.push(await startReadyWorker(product, { ownDataDir: true }));
          const cpu = (): Record<string, number> => {
            const postgres = treeCpuSeconds(postgresPid);
            const own = process.cpuUsage();
            return {
              postgres,
              ...(redis ? { redis: processCpuSeconds(redis.pid) } : {}),
              api: treeCpuSeconds(product.pid) - postgres,
              workers: workers.reduce((sum, worker) => sum + treeCpuSeconds(worker.pid), 0),
              // The clients, the proxy and s3rver run in this process.
              bench: (own.user + own.system) / 1e6,
            };
          };
          await sleep(WORKER_SETTLE_MS);
          const idleBefore = cpu();
          await sleep(IDLE_MS);
          const idleAfter = cpu();
          const { rows } = await db.query('SELECT coalesce(max(id), 0)::int AS id FROM jobs');
          const lastBefore: number = rows[0].id;
          const cpuBefore = cpu();
          const machineBefore = machineTicks();
          await ingest(product, token, batches[index]);
          await waitForJobs(db, lastBefore, batches[index].length);
          const cpuAfter = cpu();
          const machineAfter = machineTicks();
          const window = await db.query(
            'SELECT extract(epoch FROM max(finished_at) - min(created_at))::float AS seconds FROM jobs WHERE id > $1',
            [lastBefore],
          );
          runs.push({
            workers: count,
            seconds: window.rows[0].seconds,
            cpu: Object.fromEntries(
              Object.keys(cpuAfter).map((key) => [key, ((cpuAfter[key] - cpuBefore[key]) * 1000) / batches[index].length]),
            ),
            machineBusy: (100 * (machineAfter.busy - machineBefore.busy)) / (machineAfter.total - machineBefore.total),
            idle: Object.fromEntries(
              ['postgres', ...(redis ? ['redis'] : [])].map((key) => [key, ((idleAfter[key] - idleBefore[key]) * 1e6) / IDLE_MS]),
            ),
          });
        } finally {
          await Promise.all(workers.map((worker) => worker.stop()));
        }
      }
      return runs;
    } finally {
      await db.end();
      await product.stop();
    }
  });
}

async function measureBackend(backend: Backend, redis: { url: string; pid: number } | null, photos: Buffer[][]): Promise<BackendFigures> {
  const cost = await withS3(`cost-${backend.toLowerCase()}`, (s3, proxy) =>
    measureJobCost(backend, redis?.url ?? null, photos[0], { ...SETTINGS, ...s3 }, proxy),
  );
  return { backend, cost, throughput: await measureThroughput(backend, redis, photos.slice(1)) };
}

const perJob = (value: number) => (value / JOBS).toFixed(2);
const sum = (values: Iterable<number>) => [...values].reduce((total, value) => total + value, 0);
const kilobytes = (bytes: number) => `${(bytes / JOBS / 1024).toFixed(1)} KB`;

/** One row of the cost table: a label, then one cell a backend. */
function row(label: string, cells: string[]): void {
  console.log(`${label.padEnd(LABEL_WIDTH)}${cells.map((cell) => cell.padEnd(COLUMN_WIDTH)).join('')}`.trimEnd());
}

function printCost(results: BackendFigures[]): void {
  console.log(`\nCost of one upload + job (${JOBS} of them, API then a worker alone; pg_stat_statements loaded), per job`);
  row(
    '',
    results.map((result) => `queue on ${result.backend}`),
  );
  const cells = (cell: (phase: PhaseFigures) => string) => (phase: 0 | 1) => results.map((result) => cell(result.cost[phase]));
  const statements = cells(
    (phase) =>
      `${perJob(sum(phase.statements.map((s) => s.calls)))} (${perJob(sum(phase.statements.filter((s) => s.toplevel).map((s) => s.calls)))} sent)`,
  );
  const transactions = cells((phase) => perJob(phase.transactions.committed + phase.transactions.rolledBack));
  const redis = cells((phase) => (phase.redis ? perJob(sum(phase.redis.values())) : '—'));
  const s3Requests = cells((phase) =>
    phase.s3
      ? [...phase.s3.requests.entries()]
          .sort((a, b) => b[1] - a[1])
          .map(([method, count]) => `${method} ${perJob(count)}`)
          .join(', ')
      : '—',
  );
  const s3Bytes = cells((phase) => (phase.s3 ? `${kilobytes(phase.s3.bytesUp)} up, ${kilobytes(phase.s3.bytesDown)} down` : '—'));
  const cpu = (name: string) => cells((phase) => (phase.cpu[name] === undefined ? '—' : `${phase.cpu[name].toFixed(1)} ms`));
  for (const [phase, name, process] of [
    [0, '(1) API alone', 'api'],
    [1, '(2) worker alone', 'worker'],
  ] as const) {
    row(`${name}: PostgreSQL statements`, statements(phase));
    row(`${name}: PostgreSQL transactions`, transactions(phase));
    row(`${name}: PostgreSQL CPU`, cpu('postgres')(phase));
    row(`${name}: Redis commands`, redis(phase));
    row(`${name}: S3 requests`, s3Requests(phase));
    row(`${name}: S3 bodies`, s3Bytes(phase));
    row(`${name}: ${process === 'api' ? 'API' : 'worker'} CPU`, cpu(process)(phase));
  }
  row(
    'PostgreSQL CPU, both phases',
    results.map((result) => `${sum(result.cost.map((phase) => phase.cpu.postgres)).toFixed(1)} ms`),
  );
  row(
    'Redis commands, both phases',
    results.map((result) =>
      result.cost.every((phase) => phase.redis) ? perJob(sum(result.cost.flatMap((p) => [...p.redis!.values()]))) : '—',
    ),
  );
}

function printThroughput(result: BackendFigures): void {
  const redis = result.backend === 'Redis';
  console.log(
    `\nThroughput, queue on ${result.backend}: ${JOBS} uploads + jobs a run; CPU in ms a job; "cores" is a process's CPU / the batch's time; ` +
      `"idle" is ms of CPU a second with no job, over ${IDLE_MS / 1000} s before the batch`,
  );
  const columns = [
    'workers',
    'jobs/s',
    'seconds',
    'PostgreSQL',
    'cores',
    ...(redis ? ['Redis', 'cores'] : []),
    'API',
    'workers',
    'bench',
    'machine busy',
    'PostgreSQL idle',
    ...(redis ? ['Redis idle'] : []),
  ];
  console.log(columns.map((column, index) => (index === 0 ? column.padEnd(8) : column.padStart(column.length + 3))).join(''));
  for (const run of result.throughput) {
    const cores = (ms: number) => ((ms * JOBS) / 1000 / run.seconds).toFixed(2);
    const cells = [
      String(run.workers).padEnd(8),
      (JOBS / run.seconds).toFixed(1),
      run.seconds.toFixed(2),
      run.cpu.postgres.toFixed(1),
      cores(run.cpu.postgres),
      ...(redis ? [run.cpu.redis.toFixed(1), cores(run.cpu.redis)] : []),
      run.cpu.api.toFixed(1),
      run.cpu.workers.toFixed(1),
      run.cpu.bench.toFixed(1),
      `${run.machineBusy.toFixed(0)} %`,
      run.idle.postgres.toFixed(1),
      ...(redis ? [run.idle.redis.toFixed(1)] : []),
    ];
    console.log(cells.map((cell, index) => (index === 0 ? cell : cell.padStart(columns[index].length + 3))).join(''));
  }
  for (const run of result.throughput) {
    const line = [`one PostgreSQL core at ${run.cpu.postgres.toFixed(1)} ms a job: ${(1000 / run.cpu.postgres).toFixed(0)} jobs/s`];
    if (redis) line.push(`one Redis at ${run.cpu.redis.toFixed(1)} ms a job: ${(1000 / run.cpu.redis).toFixed(0)} jobs/s`);
    console.log(`  ${run.workers} worker${run.workers === 1 ? '' : 's'}: ${line.join('; ')}`);
  }
}

async function main(): Promise<void> {
  // Both backends are chosen here: the shell's own database and queue would bypass the embedded server and the private Redis.
  delete process.env.DATABASE_URL;
  delete process.env.REDIS_URL;
  const all = await makePhotos(JOBS * (1 + WORKER_COUNTS.length), SIZE, SIZE);
  const photos = Array.from({ length: 1 + WORKER_COUNTS.length }, (_, batch) => all.slice(batch * JOBS, (batch + 1) * JOBS));
  console.log(
    `${all.length} different ${SIZE}×${SIZE} JPEG photographs, each uploaded then processed by ${JSON.stringify(JOB_SEQUENCE)}; ` +
      `files on S3 (s3rver); Node ${process.version}; load average before: ${loadAverage()}`,
  );
  const results: BackendFigures[] = [];
  if (BACKENDS.includes('postgresql')) results.push(await measureBackend('PostgreSQL', null, photos));
  const redis = BACKENDS.includes('redis') ? await startRedis() : null;
  if (redis) {
    try {
      results.push(await measureBackend('Redis', redis, photos));
    } finally {
      await redis.stop();
    }
  } else if (BACKENDS.includes('redis')) {
    console.log('\nNo redis-server on this machine: the queue on Redis is not measured (install redis-server to measure it).');
  }
  printCost(results);
  for (const result of results) printThroughput(result);
  console.log(`\nload average after: ${loadAverage()}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
