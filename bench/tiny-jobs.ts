import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { api, deleteRedisKeys, inParallel, RunningProduct, signUp, startProduct, uploadTinyImage } from './bench-support';

/**
 * `npm run bench:tiny`: tiny jobs (`["process", "invert"]` on a 64×64 PNG, `force` so that each
 * one computes its step), the job-cost issue's trivial-jobs target.
 *
 * 1. Created, with the API alone (`--api-only`, no worker): for BENCH_SECONDS each, autocannon
 *    posting single bodies to POST /api/jobs.json (CLIENTS connections), first with the session
 *    cache off (AUTH_CACHE_SECONDS=0, as before it existed), then on (the default); then batches
 *    of BATCH bodies to POST /api/jobs/batch.json (BATCH_CLIENTS connections). Jobs/s counts the
 *    rows written, read from the database.
 * 2. Completed end to end, by `npm start`'s API and worker: JOBS jobs submitted as single creates
 *    (CLIENTS at once), then JOBS as batches, each timed from the first request until every job
 *    has ended.
 *
 * Rate limits and the jobs-in-progress quota are off, as in issue 12's measurements. The queue
 * is Redis when REDIS_URL is set (the target's setting), else BullMQ's PostgreSQL backend. Each
 * product runs on its own embedded PostgreSQL; its Redis keys live under QUEUE_PREFIX
 * `benchtiny…`, deleted at the end.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const JOBS = Number(process.env.BENCH_TINY_JOBS ?? 2000);
const CLIENTS = 8;
const BATCH = 1000;
const BATCH_CLIENTS = 2;
const PREFIX = `benchtiny${Date.now().toString(36)}`;
/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in hundredths of a second. */
const CLOCK_TICKS = 100;

const SETTINGS = {
  AUTH_RATE_LIMIT: '0',
  JOB_RATE_LIMIT: '0',
  UPLOAD_RATE_LIMIT: '0',
  QUOTA_JOBS_IN_PROGRESS: '100000000',
  QUEUE_PREFIX: PREFIX,
  LOG_LEVEL: 'warn',
};

interface Seeded {
  product: RunningProduct;
  token: string;
  body: string;
  db: Client;
}

async function start(env: NodeJS.ProcessEnv, args: string[] = []): Promise<Seeded> {
  const product = await startProduct({ ...SETTINGS, ...env }, args);
  const token = await signUp(product, 'tiny');
  const imageId = await uploadTinyImage(product, token);
  const db = new Client({ connectionString: product.databaseUrl });
  await db.connect();
  // force: each job computes its step, rather than pointing at the same work done by the first.
  return { product, token, body: JSON.stringify({ image_id: imageId, job_type: 'invert', force: true }), db };
}

async function stop(seeded: Seeded): Promise<void> {
  await seeded.db.end();
  await seeded.product.stop();
}

async function count(db: Client, where = 'true'): Promise<number> {
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE ${where}`)).rows[0].n;
}

/** CPU time of process `pid` so far, in ms (its own threads, not its children). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * Jobs written per second while autocannon posts `body` to `path` for SECONDS, and the API
 * process's CPU per job: on a machine shared with other work the rate varies from run to run,
 * the CPU per job much less.
 */
async function created(
  seeded: Seeded,
  path: string,
  body: string,
  connections: number,
): Promise<{ perSecond: number; cpuPerJob: number; errors: number }> {
  const before = await count(seeded.db);
  const cpuBefore = cpuMs(seeded.product.pid);
  const started = performance.now();
  const result = await autocannon({
    url: `${seeded.product.url}${path}`,
    method: 'POST',
    connections,
    duration: SECONDS,
    headers: { Authorization: `Bearer ${seeded.token}`, 'Content-Type': 'application/json' },
    body,
  });
  const seconds = (performance.now() - started) / 1000;
  const jobs = (await count(seeded.db)) - before;
  return { perSecond: jobs / seconds, cpuPerJob: (cpuMs(seeded.product.pid) - cpuBefore) / jobs, errors: result.non2xx + result.errors };
}

/** Submits `jobs` by `submit`, then waits for every job to end: jobs completed per second, from the first request. */
async function endToEnd(seeded: Seeded, submit: () => Promise<void>, jobs: number): Promise<number> {
  const after = (await seeded.db.query<{ id: number }>('SELECT coalesce(max(id), 0)::int AS id FROM jobs')).rows[0].id;
  const started = performance.now();
  await submit();
  for (;;) {
    if ((await count(seeded.db, `id > ${after} AND status IN ('queued', 'running')`)) === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  const completed = await count(seeded.db, `id > ${after} AND status = 'completed'`);
  if (completed !== jobs) throw new Error(`${completed} of ${jobs} jobs completed`);
  return jobs / seconds;
}

const describeCreated = (figures: { perSecond: number; cpuPerJob: number; errors: number }) =>
  `${figures.perSecond.toFixed(0).padStart(5)} jobs/s, ${figures.cpuPerJob.toFixed(2)} ms API CPU a job (${figures.errors} errors)`;

const batchBody = (seeded: Seeded, size: number) => JSON.stringify({ jobs: Array.from({ length: size }, () => JSON.parse(seeded.body)) });

async function main(): Promise<void> {
  const queue = process.env.REDIS_URL ? 'Redis' : 'PostgreSQL (set REDIS_URL for the target figures)';
  const line = (label: string, value: string) => console.log(`${label.padEnd(62)} ${value}`);
  console.log(`Tiny jobs: ["process", "invert"] on a 64×64 PNG, queue on ${queue}`);
  try {
    console.log(`\nCreated, API alone (no worker), ${SECONDS} s each:`);
    let seeded = await start({ AUTH_CACHE_SECONDS: '0' }, ['--api-only']);
    try {
      const single = await created(seeded, '/api/jobs.json', seeded.body, CLIENTS);
      line(`POST /api/jobs.json, ${CLIENTS} clients, no session cache`, describeCreated(single));
    } finally {
      await stop(seeded);
    }
    seeded = await start({}, ['--api-only']);
    try {
      const single = await created(seeded, '/api/jobs.json', seeded.body, CLIENTS);
      line(`POST /api/jobs.json, ${CLIENTS} clients, session cache (default)`, describeCreated(single));
      const batch = await created(seeded, '/api/jobs/batch.json', batchBody(seeded, BATCH), BATCH_CLIENTS);
      line(`POST /api/jobs/batch.json, ${BATCH} a batch, ${BATCH_CLIENTS} clients`, describeCreated(batch));
    } finally {
      await stop(seeded);
    }

    console.log(`\nCompleted end to end, npm start (API and worker, production defaults), ${JOBS} jobs each:`);
    seeded = await start({});
    try {
      const singles = await endToEnd(
        seeded,
        () =>
          inParallel(
            [...Array(JOBS).keys()],
            CLIENTS,
            async () => void (await api(seeded.product.url, seeded.token, '/api/jobs.json', { method: 'POST', body: seeded.body })),
          ),
        JOBS,
      );
      line(`submitted by POST /api/jobs.json, ${CLIENTS} clients`, `${singles.toFixed(0)} jobs/s`);
      const batches = await endToEnd(
        seeded,
        () =>
          inParallel([...Array(Math.ceil(JOBS / BATCH)).keys()], BATCH_CLIENTS, async (index) => {
            const size = Math.min(BATCH, JOBS - index * BATCH);
            await api(seeded.product.url, seeded.token, '/api/jobs/batch.json', { method: 'POST', body: batchBody(seeded, size) });
          }),
        JOBS,
      );
      line(`submitted by POST /api/jobs/batch.json, ${BATCH} a batch`, `${batches.toFixed(0)} jobs/s`);
    } finally {
      await stop(seeded);
    }
    console.log(
      '\nTargets (the job-cost issue): single creates by 8 clients, ≥ 1,000 jobs/s created and ≥ 500 jobs/s completed end to end, on Redis.',
    );
  } finally {
    if (process.env.REDIS_URL) await deleteRedisKeys(process.env.REDIS_URL, PREFIX);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
