import { Client } from 'pg';
import { compareMedian, compareNeighbours, computeReference, Reference } from './aggregate-reference';
import { api, childPid, loadAverage, peakMemoryOfChild, resetPeakMemory, sleep, startProduct } from './bench-support';

/**
 * `npm run bench`: the figures of issue 25's targets table, at each of BENCH_SIZES histograms.
 * For each size it seeds synthetic histograms through the product's own tables (server-side bulk
 * INSERT … SELECT; the same triggers pack them and keep the counters), then times a median and a
 * K=10 search end to end — POST /api/jobs.json to `completed` — once just after seeding and again
 * as a server in use would run them (the table's figures). It checks the warm results against its
 * own reference read from the database, waits until the worker's latest histogram snapshot covers
 * every histogram, then kills the worker and times a median posted at once, which the restarted
 * worker (the supervisor starts it again) answers. Last it prints the table in the issue's shape.
 */
const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const USERS = 1000;
const CHUNK = 100_000;
const K = 10;
/** A snapshot of a million histograms is written in the background: it may take minutes. */
const SNAPSHOT_CHANGES = Number(process.env.HISTOGRAM_SNAPSHOT_CHANGES || 10_000);
const SNAPSHOT_WAIT_SECONDS = Number(process.env.BENCH_SNAPSHOT_WAIT_SECONDS ?? 1800);
const JOB_TIMEOUT_SECONDS = 600;
const WORKER_SCRIPT = 'worker.main.js';

interface SizeFigures {
  size: number;
  warmMedianSeconds: number;
  warmSearchSeconds: number;
  restartedMedianSeconds: number;
  warmPeakMb: number;
  restartedPeakMb: number;
  exactness: string;
  notes: string[];
}

interface JobRun {
  seconds: number;
  result: any;
}

async function seedUsers(db: Client): Promise<void> {
  await db.query(
    `INSERT INTO users (username, email, encrypted_password)
     SELECT 'bench' || g, 'bench' || g || '@example.com', 'not-a-password-hash'
       FROM generate_series(1, $1) g`,
    [USERS],
  );
}

/** Grows the histograms table to `total` rows, spread over the synthetic users. */
async function seedHistograms(db: Client, total: number): Promise<void> {
  const [{ count }] = (await db.query('SELECT count(*)::int AS count FROM histograms')).rows;
  for (let have = count; have < total; have += CHUNK) {
    const rows = Math.min(CHUNK, total - have);
    await db.query(
      `WITH owners AS (SELECT array_agg(id) AS ids FROM users WHERE username LIKE 'bench%'),
            made AS (
              INSERT INTO images (status, user_id, image_type_id, width, height, format)
              SELECT 'processed', ids[1 + (g % cardinality(ids))], (SELECT id FROM image_types WHERE type_name = 'histogram'), 64, 64, 'png'
                FROM owners, generate_series(1, $1) g
              RETURNING id)
       INSERT INTO histograms (image_id, bins)
       SELECT id, ARRAY(SELECT (random() * 4000)::int + (id * 0) FROM generate_series(1, 256)) FROM made`,
      [rows],
    );
  }
}

async function timeJob(url: string, token: string, body: object): Promise<JobRun> {
  const started = performance.now();
  const job = await api(url, token, '/api/jobs.json', { method: 'POST', body: JSON.stringify(body) });
  for (;;) {
    const current = await api(url, token, `/api/jobs/${job.id}.json`);
    const seconds = (performance.now() - started) / 1000;
    if (current.status === 'failed') throw new Error(`Job ${job.id} failed: ${current.error}`);
    if (current.status === 'completed') return { seconds, result: current.result };
    if (seconds > JOB_TIMEOUT_SECONDS) throw new Error(`Job ${job.id} is still ${current.status} after ${JOB_TIMEOUT_SECONDS} s`);
    await sleep(20);
  }
}

function workerPid(productPid: number): number {
  const pid = childPid(productPid, WORKER_SCRIPT);
  if (pid === null) throw new Error('The product has no worker process');
  return pid;
}

function workerPeakMb(productPid: number): number {
  const peak = peakMemoryOfChild(productPid, WORKER_SCRIPT);
  if (peak === null) throw new Error('The product has no worker process');
  return peak;
}

/**
 * Waits until the latest complete snapshot (histogram_snapshots) is as current as the product keeps it: within
 * HISTOGRAM_SNAPSHOT_CHANGES of `histograms` (a worker writes a new one only past that many
 * changes), so that the restarted worker is timed loading a snapshot and catching up on at most
 * that many rows; answers what it found.
 */
async function waitForSnapshot(db: Client, histograms: number): Promise<string> {
  const [{ present }] = (await db.query(`SELECT to_regclass('histogram_snapshots') IS NOT NULL AS present`)).rows;
  if (!present) return 'there is no histogram_snapshots table: the worker was killed without waiting for a snapshot';
  const started = performance.now();
  for (;;) {
    const { rows } = await db.query('SELECT histograms FROM histogram_snapshots WHERE complete ORDER BY id DESC LIMIT 1');
    const covered = Number(rows[0]?.histograms ?? 0);
    const waited = (performance.now() - started) / 1000;
    if (rows.length > 0 && covered > histograms - SNAPSHOT_CHANGES)
      return `the latest snapshot held ${covered} histograms after a wait of ${waited.toFixed(1)} s`;
    if (waited > SNAPSHOT_WAIT_SECONDS) {
      return `no snapshot covered the ${histograms} histograms within ${SNAPSHOT_WAIT_SECONDS} s (the latest held ${covered}): the worker was killed all the same`;
    }
    await sleep(1000);
  }
}

/** 'exact', or the first of the checked runs to differ from the reference and how. */
function exactnessOf(checks: [string, string][]): string {
  const mismatch = checks.find(([, verdict]) => verdict !== 'exact');
  return mismatch ? `${mismatch[0]}: ${mismatch[1]}` : 'exact';
}

function logRun(size: number, name: string, run: JobRun, peakMb?: number): void {
  const peak = peakMb === undefined ? '' : `   worker peak RSS ${peakMb.toFixed(0)} MB`;
  console.log(`${size.toLocaleString('en').padStart(9)}  ${name.padEnd(26)} ${run.seconds.toFixed(3).padStart(7)} s${peak}`);
}

async function measureSize(
  db: Client,
  product: { url: string; pid: number },
  token: string,
  asker: { id: number; targetId: number },
  size: number,
): Promise<SizeFigures> {
  const notes: string[] = [];
  const seeding = performance.now();
  await seedHistograms(db, size);
  // Timed jobs should not race the server writing out what seeding left in memory.
  await db.query('VACUUM ANALYZE images, histograms');
  await db.query('CHECKPOINT');
  const [{ histograms }] = (await db.query('SELECT count(*)::int AS histograms FROM histograms')).rows;
  console.log(
    `${size.toLocaleString('en').padStart(9)}  seeded ${histograms} histograms in ${((performance.now() - seeding) / 1000).toFixed(0)} s`,
  );

  const median = { job_sequence: ['query', 'histogram', 'median'], params: { n: 'all', image_type: 'histogram' } };
  const search = { job_sequence: ['search', 'histogram', 'nearest_neighbor'], params: { target: asker.targetId, k: K } };
  logRun(size, 'median, first', await timeJob(product.url, token, median));
  logRun(size, `search K=${K}, first`, await timeJob(product.url, token, search));

  const warmWorker = workerPid(product.pid);
  if (!resetPeakMemory(warmWorker)) notes.push('the warm peak RSS is since the worker started: the kernel would not reset it');
  const warmMedian = await timeJob(product.url, token, median);
  const warmSearch = await timeJob(product.url, token, search);
  const warmPeakMb = workerPeakMb(product.pid);
  logRun(size, 'median, warm', warmMedian);
  logRun(size, `search K=${K}, warm`, warmSearch, warmPeakMb);

  const referenceStarted = performance.now();
  const reference: Reference = await computeReference(db, asker.targetId, asker.id, K);
  console.log(
    `${size.toLocaleString('en').padStart(9)}  reference computed in ${((performance.now() - referenceStarted) / 1000).toFixed(1)} s`,
  );

  const snapshot = await waitForSnapshot(db, histograms);
  console.log(`${size.toLocaleString('en').padStart(9)}  ${snapshot}`);
  notes.push(snapshot);

  process.kill(warmWorker, 'SIGKILL');
  const restarted = await timeJob(product.url, token, median);
  const restartedPeakMb = workerPeakMb(product.pid);
  logRun(size, 'median, worker restarted', restarted, restartedPeakMb);

  const exactness = exactnessOf([
    ['warm median', compareMedian(warmMedian.result, reference)],
    ['warm search', compareNeighbours(warmSearch.result, reference)],
    ['median after the restart', compareMedian(restarted.result, reference)],
  ]);
  console.log(`${size.toLocaleString('en').padStart(9)}  exactness: ${exactness}`);
  return {
    size,
    warmMedianSeconds: warmMedian.seconds,
    warmSearchSeconds: warmSearch.seconds,
    restartedMedianSeconds: restarted.seconds,
    warmPeakMb,
    restartedPeakMb,
    exactness,
    notes,
  };
}

/** The targets table: one row per target, one column per size, the target last. */
function targetsTable(figures: SizeFigures[]): string {
  const seconds = (value: number) => `${value.toFixed(2)} s`;
  const rows: [string, (f: SizeFigures) => string, string][] = [
    ['median, request to `completed`, warm', (f) => seconds(f.warmMedianSeconds), '< 1.0 s at 1M; < 0.25 s at 100k'],
    [`search K=${K}, warm`, (f) => seconds(f.warmSearchSeconds), '< 0.5 s'],
    ['median right after a worker restart', (f) => seconds(f.restartedMedianSeconds), '< 3.0 s'],
    ['worker RSS during the run', (f) => `${f.warmPeakMb.toFixed(0)} MB warm, ${f.restartedPeakMb.toFixed(0)} MB restarted`, '< 1.0 GB'],
    ['exactness', (f) => f.exactness, "numpy's median, scikit-learn's neighbours: exact"],
  ];
  const lines = [
    `| at N histograms | ${figures.map((f) => f.size.toLocaleString('en')).join(' | ')} | target |`,
    `|---|${figures.map(() => '---|').join('')}---|`,
    ...rows.map(([name, cell, target]) => `| ${name} | ${figures.map(cell).join(' | ')} | ${target} |`),
  ];
  const notes = figures.flatMap((f) => f.notes.map((note) => `At ${f.size.toLocaleString('en')}: ${note}.`));
  return [...lines, '', ...notes].join('\n');
}

async function main(): Promise<void> {
  // The machine may be shared: the load says how far to trust the seconds.
  const loadBefore = loadAverage();
  const product = await startProduct();
  const db = new Client({ connectionString: product.databaseUrl });
  await db.connect();
  try {
    const username = `asker${Date.now()}`;
    const asker = await api(product.url, '', '/api/users.json', {
      method: 'POST',
      body: JSON.stringify({ username, email: `${username}@example.com`, password: 'bench-password' }),
    });
    const [{ id: targetId }] = (
      await db.query(
        `WITH made AS (INSERT INTO images (status, user_id, image_type_id) VALUES ('processed', $1, (SELECT id FROM image_types WHERE type_name = 'histogram')) RETURNING id)
         INSERT INTO histograms (image_id, bins) SELECT id, ARRAY(SELECT (random() * 4000)::int FROM generate_series(1, 256)) FROM made RETURNING image_id AS id`,
        [asker.id],
      )
    ).rows;
    await seedUsers(db);
    const figures: SizeFigures[] = [];
    for (const size of SIZES) {
      figures.push(await measureSize(db, product, asker.authentication_token, { id: asker.id, targetId }, size));
    }
    console.log(`\n${targetsTable(figures)}\nLoad average (1, 5, 15 min): ${loadBefore} before, ${loadAverage()} after.`);
  } finally {
    await db.end();
    await product.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
