import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { dropDatabase, ensureDatabase, withDatabase } from '../src/database/database-admin';
import {
  api,
  deleteRedisKeys,
  loadAverage,
  RunningProduct,
  RunningWorker,
  signUp,
  sleep,
  startProduct,
  startReadyWorker,
  uploadPhoto,
} from './bench-support';

/**
 * `npm run bench:fairness`: issue 22's three scenarios, on both queue backends, each with
 * QUEUE_ORDER=fair and with QUEUE_ORDER=fifo (every job queued at once in creation order, as
 * before fairness) in the same run.
 *
 * Each scenario runs on a database of its own, made on the machine's PostgreSQL
 * (FAIRNESS_POSTGRES_URL) and dropped afterwards, with the queue on the machine's Redis
 * (FAIRNESS_REDIS_URL, keys under a prefix of the run's own, deleted afterwards) or on
 * PostgreSQL: one API process (`--api-only`) and WORKERS worker processes at the default
 * WORKER_CONCURRENCY, sharing the API's DATA_DIR (local files). Rate limits are off and the
 * jobs-in-progress quota out of reach. Every job is `["process", "grayscale", "resize"]` to 64
 * pixels wide on the test fixture astronaut.jpg (512×512), uploaded once by each user, with
 * `force` so that each job computes its steps.
 *
 * 1. User A submits A_JOBS jobs in batches of BATCH (bulk lane); once A's first job has started,
 *    user B submits B_JOBS jobs one at a time, 0.5 s apart. B's waits (created_at → started_at),
 *    B's run times (started_at → finished_at), and A's jobs completed a second from B's first
 *    submission until B's last job ended. The scenario stops there: the rest of A's backlog is
 *    not run (FAIRNESS_FINISH_A=1 runs it, and A's throughput over its whole run is printed).
 * 2. USERS users each submit PER_USER jobs at once (a batch each, all at the same time); each
 *    user's time from the first submission to the end of their NTH job and of their last.
 * 3. The injector (`dist/src/jobs/inject.cli.js`, bulk lane) makes INJECTED jobs, for as many
 *    copies of one user's photograph (rows copied in SQL: uploading them all would take longer
 *    than the scenario); once they are made and the first has started, INTERACTIVE_USERS users
 *    each submit a job every 0.5 s for INTERACTIVE_SECONDS. Interactive waits, and bulk's share
 *    of the jobs completed from the first interactive submission until the last interactive job
 *    ended. The scenario stops there, the injected backlog unfinished.
 *
 * Waits are read from the jobs table. A job still waiting when its scenario gives up (MAX_WAIT
 * seconds after its last submission: with FIFO, B's jobs and the interactive ones wait behind the
 * whole backlog) counts with its wait so far, printed as "≥".
 *
 * Sizes: FAIRNESS_SCALE (1) scales A_JOBS, PER_USER, NTH and INJECTED (0.1 for a quick try);
 * FAIRNESS_SCENARIOS (1,2,3), FAIRNESS_BACKENDS (redis,postgresql), FAIRNESS_ORDERS (fair,fifo),
 * FAIRNESS_INTERACTIVE_SECONDS (25), FAIRNESS_MAX_WAIT_SECONDS (60). Scenario 2 runs its 5,000
 * jobs to the end on each of its four installations: at 80 jobs/s the whole run takes about 15
 * minutes.
 */
const SCALE = Number(process.env.FAIRNESS_SCALE ?? 1);
const scaled = (count: number) => Math.max(1, Math.round(count * SCALE));
const POSTGRES_URL = process.env.FAIRNESS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.FAIRNESS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SCENARIOS = (process.env.FAIRNESS_SCENARIOS ?? '1,2,3').split(',').map(Number);
const BACKENDS = (process.env.FAIRNESS_BACKENDS ?? 'redis,postgresql')
  .toLowerCase()
  .split(',')
  .map((name): Backend => (name === 'redis' ? 'Redis' : 'PostgreSQL'));
const ORDERS = (process.env.FAIRNESS_ORDERS ?? 'fair,fifo').split(',') as Order[];
const FINISH_A = process.env.FAIRNESS_FINISH_A === '1';
const MAX_WAIT_MS = Number(process.env.FAIRNESS_MAX_WAIT_SECONDS ?? 60) * 1000;

const WORKERS = 2;
/** Jobs a batch: at least BULK_BATCH_FROM (20), at most MAX_BATCH_JOBS (1,000). */
const BATCH = 500;
const A_JOBS = scaled(5000);
const B_JOBS = 20;
const INTERVAL_MS = 500;
const USERS = 10;
const PER_USER = scaled(500);
const NTH = scaled(100);
const INJECTED = scaled(10_000);
const INTERACTIVE_USERS = 5;
const INTERACTIVE_SECONDS = Number(process.env.FAIRNESS_INTERACTIVE_SECONDS ?? 25);
const BULK_SHARE = 20;
const POLL_MS = 250;

const PHOTO = readFileSync(join(__dirname, '..', '..', 'test', 'fixtures', 'astronaut.jpg'));
const JOB_SEQUENCE = ['process', 'grayscale', 'resize'];
const PARAMS = { resize: { width: 64 } };
const SETTINGS = {
  AUTH_RATE_LIMIT: '0',
  JOB_RATE_LIMIT: '0',
  UPLOAD_RATE_LIMIT: '0',
  QUOTA_JOBS_IN_PROGRESS: '100000000',
  LOG_LEVEL: 'warn',
  WORKER_METRICS_PORT: '0',
};
const RUN = Date.now().toString(36);

type Backend = 'Redis' | 'PostgreSQL';
type Order = 'fair' | 'fifo';

interface Installation {
  backend: Backend;
  order: Order;
  product: RunningProduct;
  db: Client;
}

interface User {
  token: string;
  id: number;
  imageId: number;
}

/** One job's times, in ms since the epoch, from the jobs table. */
interface JobTimes {
  userId: number;
  status: string;
  created: number;
  started: number | null;
  finished: number | null;
}

/** A wait, or the wait so far of a job that had not started when its scenario stopped. */
interface Wait {
  ms: number;
  censored: boolean;
}

/**
 * Runs `scenario` on a new database (and a new Redis prefix) with the API and WORKERS workers
 * up, then stops them and drops what it made.
 */
async function withInstallation<T>(name: string, backend: Backend, order: Order, scenario: (at: Installation) => Promise<T>): Promise<T> {
  const database = `bench_fairness_${RUN}_${name}_${backend}_${order}`.toLowerCase();
  const prefix = `benchfair${RUN}${name}${order}`;
  await ensureDatabase(POSTGRES_URL, database);
  const workers: RunningWorker[] = [];
  let product: RunningProduct | undefined;
  const db = new Client({ connectionString: withDatabase(POSTGRES_URL, database) });
  try {
    product = await startProduct(
      {
        ...SETTINGS,
        DATABASE_URL: withDatabase(POSTGRES_URL, database),
        QUEUE_ORDER: order,
        ...(backend === 'Redis' ? { REDIS_URL, QUEUE_PREFIX: prefix } : {}),
      },
      ['--api-only'],
    );
    for (let started = 0; started < WORKERS; started++) workers.push(await startReadyWorker(product, { ownDataDir: false }));
    await db.connect();
    return await scenario({ backend, order, product, db });
  } finally {
    await db.end().catch(() => undefined);
    await Promise.all(workers.map((worker) => worker.stop()));
    await product?.stop();
    await dropDatabase(POSTGRES_URL, database);
    if (backend === 'Redis') await deleteRedisKeys(REDIS_URL, prefix);
  }
}

/** Signs a user up and uploads their copy of the photograph. */
async function newUser(at: Installation, name: string): Promise<User> {
  const token = await signUp(at.product, name);
  const imageId = await uploadPhoto(at.product, token, PHOTO, 0);
  const { rows } = await at.db.query('SELECT user_id FROM images WHERE id = $1', [imageId]);
  return { token, id: rows[0].user_id, imageId };
}

const jobBody = (user: User) => ({ image_id: user.imageId, job_sequence: JOB_SEQUENCE, params: PARAMS, force: true });

async function submitOne(at: Installation, user: User): Promise<void> {
  await api(at.product.url, user.token, '/api/jobs.json', { method: 'POST', body: JSON.stringify(jobBody(user)) });
}

/** `count` jobs in batches of BATCH, one batch after the other, each job in the bulk lane. */
async function submitInBatches(at: Installation, user: User, count: number): Promise<void> {
  for (let sent = 0; sent < count; sent += BATCH) {
    const jobs = Array.from({ length: Math.min(BATCH, count - sent) }, () => ({ ...jobBody(user), lane: 'bulk' }));
    await api(at.product.url, user.token, '/api/jobs/batch.json', { method: 'POST', body: JSON.stringify({ jobs }) });
  }
}

/** `count` single jobs, the i-th submitted `offsetMs` + i × INTERVAL_MS after the call. */
async function submitPaced(at: Installation, user: User, count: number, offsetMs = 0): Promise<void> {
  const start = Date.now() + offsetMs;
  for (let sent = 0; sent < count; sent++) {
    await sleep(start + sent * INTERVAL_MS - Date.now());
    await submitOne(at, user);
  }
}

async function jobsOf(at: Installation, users: User[]): Promise<JobTimes[]> {
  const { rows } = await at.db.query(
    `SELECT user_id, status,
            (extract(epoch FROM created_at) * 1000)::float8 AS created,
            (extract(epoch FROM started_at) * 1000)::float8 AS started,
            (extract(epoch FROM finished_at) * 1000)::float8 AS finished
       FROM jobs WHERE user_id = ANY($1) ORDER BY id`,
    [users.map((user) => user.id)],
  );
  return rows.map((row) => ({
    userId: row.user_id,
    status: row.status,
    created: row.created,
    started: row.started,
    finished: row.finished,
  }));
}

async function databaseNow(at: Installation): Promise<number> {
  return (await at.db.query('SELECT (extract(epoch FROM now()) * 1000)::float8 AS now')).rows[0].now;
}

/**
 * Polls until `users` have `count` jobs in one of `statuses` (or any job failed: an error), or
 * until `deadline` (ms since the epoch); answers whether the count was reached.
 */
async function waitForJobs(at: Installation, users: User[], count: number, statuses: string[], deadline = Infinity): Promise<boolean> {
  for (;;) {
    const { rows } = await at.db.query(
      `SELECT count(*) FILTER (WHERE status = ANY($2))::int AS reached, count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM jobs WHERE user_id = ANY($1)`,
      [users.map((user) => user.id), statuses],
    );
    if (rows[0].failed > 0) throw new Error(`${rows[0].failed} jobs failed (${at.backend}, ${at.order})`);
    if (rows[0].reached >= count) return true;
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
}

const waitsOf = (jobs: JobTimes[], now: number): Wait[] =>
  jobs.map((job) =>
    job.started === null ? { ms: now - job.created, censored: true } : { ms: job.started - job.created, censored: false },
  );

/** The nearest-rank percentile `p` (0–100) of `values`, sorted here. */
function percentile<T extends { ms: number }>(values: T[], p: number): T {
  const sorted = [...values].sort((a, b) => a.ms - b.ms);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

const finishedWithin = (jobs: JobTimes[], from: number, to: number) =>
  jobs.filter((job) => job.finished !== null && job.finished >= from && job.finished <= to).length;

// Scenario 1 ------------------------------------------------------------------------------------

interface BehindBacklog {
  backend: Backend;
  order: Order;
  waits: Wait[];
  /** NaN when none of B's jobs ran before the scenario gave up. */
  bRunMs: number;
  /** A's jobs completed a second from B's first submission until B's last job ended (or the scenario gave up). */
  aPerSecond: number;
  /** Over A's whole run, with FAIRNESS_FINISH_A=1. */
  aWholePerSecond: number | null;
}

async function behindBacklog(at: Installation): Promise<BehindBacklog> {
  const a = await newUser(at, 'a');
  const b = await newUser(at, 'b');
  await submitInBatches(at, a, A_JOBS);
  await waitForJobs(at, [a], 1, ['running', 'completed']);
  await submitPaced(at, b, B_JOBS);
  await waitForJobs(at, [b], B_JOBS, ['completed'], Date.now() + MAX_WAIT_MS);
  const now = await databaseNow(at);
  const bJobs = await jobsOf(at, [b]);
  let aJobs = await jobsOf(at, [a]);
  const windowStart = Math.min(...bJobs.map((job) => job.created));
  const windowEnd = bJobs.every((job) => job.finished !== null) ? Math.max(...bJobs.map((job) => job.finished!)) : now;
  const aPerSecond = (finishedWithin(aJobs, windowStart, windowEnd) * 1000) / (windowEnd - windowStart);
  let aWholePerSecond: number | null = null;
  if (FINISH_A) {
    await waitForJobs(at, [a], A_JOBS, ['completed']);
    aJobs = await jobsOf(at, [a]);
    aWholePerSecond = (A_JOBS * 1000) / (Math.max(...aJobs.map((job) => job.finished!)) - Math.min(...aJobs.map((job) => job.created)));
  }
  const runs = bJobs.filter((job) => job.finished !== null).map((job) => ({ ms: job.finished! - job.started! }));
  return {
    backend: at.backend,
    order: at.order,
    waits: waitsOf(bJobs, now),
    bRunMs: runs.length > 0 ? percentile(runs, 50).ms : NaN,
    aPerSecond,
    aWholePerSecond,
  };
}

// Scenario 2 ------------------------------------------------------------------------------------

interface TenUsers {
  backend: Backend;
  order: Order;
  /** By user, in the order they signed up: seconds from the first job's creation to the end of their NTH job and of their last. */
  users: { nth: number; last: number }[];
}

async function tenUsers(at: Installation): Promise<TenUsers> {
  const users: User[] = [];
  for (let index = 0; index < USERS; index++) users.push(await newUser(at, `u${index}`));
  await Promise.all(users.map((user) => submitInBatches(at, user, PER_USER)));
  await waitForJobs(at, users, USERS * PER_USER, ['completed']);
  const jobs = await jobsOf(at, users);
  const start = Math.min(...jobs.map((job) => job.created));
  return {
    backend: at.backend,
    order: at.order,
    users: users.map((user) => {
      const ends = jobs
        .filter((job) => job.userId === user.id)
        .map((job) => job.finished! - start)
        .sort((x, y) => x - y);
      return { nth: ends[NTH - 1] / 1000, last: ends[ends.length - 1] / 1000 };
    }),
  };
}

// Scenario 3 ------------------------------------------------------------------------------------

interface BesideInjector {
  backend: Backend;
  order: Order;
  waits: Wait[];
  /** Bulk's share of the jobs completed from the first interactive submission until the last interactive job ended, in per cent. */
  bulkShare: number;
  windowSeconds: number;
  bulkDone: number;
}

/** Runs the injector as `npm run inject` does, on the installation's database and queue. */
function inject(at: Installation, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '..', 'src', 'jobs', 'inject.cli.js'), ...args], {
      env: at.product.env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the injector exited with code ${code}`))));
  });
}

async function besideInjector(at: Installation): Promise<BesideInjector> {
  const owner = await newUser(at, 'bulk');
  // Copies of the uploaded row, on the same file. Verified as the original will be: the upload
  // verifier would otherwise decode every copy while the scenario runs.
  await at.db.query(
    `INSERT INTO images (status, user_id, image_type_id, width, height, format, bytes, s3_key, sha256, verified_at)
     SELECT status, user_id, image_type_id, width, height, format, bytes, s3_key, sha256, now()
       FROM images, generate_series(2, $2) WHERE id = $1`,
    [owner.imageId, INJECTED],
  );
  await inject(at, [
    '--job-sequence',
    JOB_SEQUENCE.join(','),
    '--params',
    JSON.stringify(PARAMS),
    '--image-type',
    'original',
    '--user-id',
    String(owner.id),
    '--force',
  ]);
  await waitForJobs(at, [owner], 1, ['running', 'completed']);
  const users: User[] = [];
  for (let index = 0; index < INTERACTIVE_USERS; index++) users.push(await newUser(at, `i${index}`));
  const perUser = Math.round((INTERACTIVE_SECONDS * 1000) / INTERVAL_MS);
  // Spread over the interval, so that the users do not all submit in the same instant.
  await Promise.all(users.map((user, index) => submitPaced(at, user, perUser, (index * INTERVAL_MS) / INTERACTIVE_USERS)));
  await waitForJobs(at, users, perUser * INTERACTIVE_USERS, ['completed'], Date.now() + MAX_WAIT_MS);
  const now = await databaseNow(at);
  const interactive = await jobsOf(at, users);
  const bulk = await jobsOf(at, [owner]);
  const windowStart = Math.min(...interactive.map((job) => job.created));
  const windowEnd = interactive.every((job) => job.finished !== null) ? Math.max(...interactive.map((job) => job.finished!)) : now;
  const bulkInWindow = finishedWithin(bulk, windowStart, windowEnd);
  const interactiveInWindow = finishedWithin(interactive, windowStart, windowEnd);
  return {
    backend: at.backend,
    order: at.order,
    waits: waitsOf(interactive, now),
    bulkShare: (100 * bulkInWindow) / (bulkInWindow + interactiveInWindow),
    windowSeconds: (windowEnd - windowStart) / 1000,
    bulkDone: bulk.filter((job) => job.status === 'completed').length,
  };
}

// Printing --------------------------------------------------------------------------------------

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const wait = (value: Wait) => `${value.censored ? '≥ ' : ''}${seconds(value.ms)}`;
const verdict = (met: boolean) => (met ? 'met' : 'missed');

function table(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    console.log(
      cells
        .map((cell, column) => cell.padEnd(widths[column]))
        .join('  ')
        .trimEnd(),
    );
  line(header);
  for (const row of rows) line(row);
}

/** A run's queue and order, then its waits' p50, p95 and maximum, and how many had not started. */
function waitCells({ backend, order, waits }: { backend: Backend; order: Order; waits: Wait[] }): string[] {
  const censored = waits.filter((value) => value.censored).length;
  const note = censored > 0 ? ` (${censored} not started when the scenario stopped)` : '';
  return [backend, order, wait(percentile(waits, 50)), wait(percentile(waits, 95)) + note, wait(percentile(waits, 100))];
}

/** Whether the waits' p95 is at most `limitMs`; a wait cut short by the scenario's end is not. */
function p95Within(waits: Wait[], limitMs: number): string {
  const p95 = percentile(waits, 95);
  return verdict(!p95.censored && p95.ms <= limitMs);
}

function printBehindBacklog(results: BehindBacklog[]): void {
  console.log(
    `\n1. User A: ${A_JOBS} jobs in batches of ${BATCH} (bulk lane); once A's first job runs, user B: ${B_JOBS} single jobs ` +
      `${INTERVAL_MS / 1000} s apart. A's jobs/s from B's first submission until B's last job ended (or the scenario gave up); ` +
      (FINISH_A ? "A's whole run after it." : "the scenario stopped there, A's backlog unfinished (FAIRNESS_FINISH_A=1 runs it)."),
  );
  table(
    [
      'queue',
      'order',
      'B wait p50',
      'B wait p95',
      'B wait max',
      'B run p50',
      "A jobs/s (B's window)",
      ...(FINISH_A ? ['A jobs/s (whole)'] : []),
      'B p95 ≤ 2 × B run',
    ],
    results.map((result) => [
      ...waitCells(result),
      Number.isNaN(result.bRunMs) ? '—' : seconds(result.bRunMs),
      result.aPerSecond.toFixed(1),
      ...(FINISH_A ? [result.aWholePerSecond!.toFixed(1)] : []),
      p95Within(result.waits, 2 * result.bRunMs),
    ]),
  );
  for (const backend of BACKENDS) {
    const fair = results.find((result) => result.backend === backend && result.order === 'fair');
    const fifo = results.find((result) => result.backend === backend && result.order === 'fifo');
    if (!fair || !fifo) continue;
    const ratio = fair.aPerSecond / fifo.aPerSecond;
    console.log(`${backend}: A's jobs/s fair / fifo = ${ratio.toFixed(2)} (target ≥ 0.95): ${verdict(ratio >= 0.95)}`);
  }
}

function printTenUsers(results: TenUsers[]): void {
  console.log(
    `\n2. ${USERS} users, ${PER_USER} jobs each in batches of ${BATCH}, all at once: seconds from the first job's creation ` +
      `to the end of each user's ${NTH}th job / last job, users in the order they signed up.`,
  );
  table(
    ['user', ...results.map((result) => `${result.backend} ${result.order}`)],
    Array.from({ length: USERS }, (_, index) => [
      `u${index}`,
      ...results.map((result) => `${result.users[index].nth.toFixed(1)} / ${result.users[index].last.toFixed(1)}`),
    ]),
  );
  table(
    ['queue', 'order', `first ${NTH}th`, `last ${NTH}th`, 'last / first', 'within 20 %'],
    results.map((result) => {
      const nths = result.users.map((user) => user.nth);
      const ratio = Math.max(...nths) / Math.min(...nths);
      return [
        result.backend,
        result.order,
        `${Math.min(...nths).toFixed(1)} s`,
        `${Math.max(...nths).toFixed(1)} s`,
        ratio.toFixed(2),
        verdict(ratio <= 1.2),
      ];
    }),
  );
}

function printBesideInjector(results: BesideInjector[]): void {
  console.log(
    `\n3. The injector: ${INJECTED} bulk jobs; once made and running, ${INTERACTIVE_USERS} users each submit a job every ` +
      `${INTERVAL_MS / 1000} s for ${INTERACTIVE_SECONDS} s. Bulk's share of the jobs completed from the first interactive ` +
      'submission until the last interactive job ended; the scenario stopped there ("bulk done": how much of the backlog had run).',
  );
  table(
    ['queue', 'order', 'wait p50', 'wait p95', 'wait max', 'window', 'bulk share', 'bulk done', 'p95 ≤ 2 s', `bulk ≥ ${BULK_SHARE} %`],
    results.map((result) => [
      ...waitCells(result),
      `${result.windowSeconds.toFixed(1)} s`,
      `${result.bulkShare.toFixed(0)} %`,
      `${result.bulkDone} of ${INJECTED}`,
      p95Within(result.waits, 2000),
      verdict(result.bulkShare >= BULK_SHARE),
    ]),
  );
}

async function main(): Promise<void> {
  // The installations' database and queue are chosen here, not taken from the shell.
  delete process.env.DATABASE_URL;
  delete process.env.REDIS_URL;
  const started = Date.now();
  console.log(
    `Fairness (issue 22): ${JOB_SEQUENCE.join(' → ')} to ${PARAMS.resize.width} px wide on a 512×512 JPEG, force; ` +
      `${WORKERS} worker processes; scale ${SCALE}; Node ${process.version}; load average before: ${loadAverage()}`,
  );
  const runs = <T>(name: string, scenario: (at: Installation) => Promise<T>) =>
    BACKENDS.flatMap((backend) => ORDERS.map((order) => ({ backend, order }))).reduce<Promise<T[]>>(
      async (done, { backend, order }) => [...(await done), await withInstallation(name, backend, order, scenario)],
      Promise.resolve([]),
    );
  if (SCENARIOS.includes(1)) printBehindBacklog(await runs('backlog', behindBacklog));
  if (SCENARIOS.includes(2)) printTenUsers(await runs('users', tenUsers));
  if (SCENARIOS.includes(3)) printBesideInjector(await runs('injector', besideInjector));
  console.log(`\n${((Date.now() - started) / 60_000).toFixed(1)} minutes; load average after: ${loadAverage()}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
