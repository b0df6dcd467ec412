import { availableParallelism } from 'node:os';
import { Client } from 'pg';
import sharp from 'sharp';
import { operationRegistry } from '../src/worker/operation-registry';
import { openStepInput } from '../src/worker/process-pipeline';
import {
  childPid,
  ingest,
  inParallel,
  JOB_SEQUENCE,
  makePhotos,
  RunningProduct,
  signUp,
  startProduct,
  startWorker,
  treeCpuSeconds,
} from './bench-support';

/**
 * `npm run bench:pipeline`: PHOTOS photographs (JPEGs cut from a real photo) through
 * ["process", "grayscale", "histogram"], at each size of BENCH_SIZES, measured four ways in one
 * run: the bare sharp loop (the worker's own operations with nothing around them), the API
 * ingesting uploads and jobs with no worker running, a worker alone draining those jobs, and the
 * product end to end as `npm start` runs it. CPU is read from /proc for each process apart.
 * BENCH_WORKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to the draining worker's node.
 */
const PHOTOS = Number(process.env.BENCH_PHOTOS ?? 200);
const SIZES = (process.env.BENCH_SIZES ?? '1920x1080,512x512').split(',').map((size) => size.split('x').map(Number) as [number, number]);
const PNG_COMPRESSION = Number(process.env.PNG_COMPRESSION ?? 1);
const MAX_PIXELS = 50_000_000;
/** Benchmarks measure the product, not the rate limits of the accounts issue. */
const NO_RATE_LIMITS = { AUTH_RATE_LIMIT: '0', JOB_RATE_LIMIT: '0', UPLOAD_RATE_LIMIT: '0', PNG_COMPRESSION: String(PNG_COMPRESSION) };

interface Figure {
  perSecond: number;
  /** CPU milliseconds a photo, by process. */
  cpu: Record<string, number>;
}

/** The worker's own operations, called directly and handed from one to the next as the pipeline does. */
async function bareLoop(photos: Buffer[], concurrency: number): Promise<Figure> {
  const grayscale = operationRegistry.get('grayscale')!;
  const histogram = operationRegistry.get('histogram')!;
  const context = { pngCompression: PNG_COMPRESSION };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await inParallel(photos, concurrency, async (photo) => {
    const grey = await grayscale.run(openStepInput({ data: photo }, MAX_PIXELS), {}, context);
    await histogram.run(openStepInput(grey, MAX_PIXELS), {}, context);
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { perSecond: photos.length / seconds, cpu: { bench: (cpu.user + cpu.system) / 1000 / photos.length } };
}

/** CPU seconds so far of the API, its worker child, if any, and PostgreSQL. */
function productCpu(product: RunningProduct): { api: number; worker: number; postgres: number } {
  const total = treeCpuSeconds(product.pid);
  const worker = treeCpuSeconds(childPid(product.pid, 'worker.main.js') ?? -1);
  const postgres = treeCpuSeconds(childPid(product.pid, 'bin/postgres') ?? -1);
  return { api: total - worker - postgres, worker, postgres };
}

const perPhoto = (before: Record<string, number>, after: Record<string, number>, count: number) =>
  Object.fromEntries(Object.keys(after).map((name) => [name, ((after[name] - before[name]) * 1000) / count]));

/** Waits, reading the database directly so that watching costs the API nothing, until every job is completed. */
async function waitForJobs(database: Client, count: number): Promise<{ started: Date; finished: Date }> {
  for (;;) {
    const { rows } = await database.query(
      `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'failed')::int AS failed,
              min(started_at) AS started, max(finished_at) AS finished FROM jobs`,
    );
    if (rows[0].failed > 0) throw new Error(`${rows[0].failed} jobs failed`);
    if (rows[0].completed === count) return rows[0];
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitForFirstClaim(database: Client): Promise<void> {
  while ((await database.query("SELECT 1 FROM jobs WHERE status <> 'queued' LIMIT 1")).rowCount === 0) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The API alone ingests the photos; then a worker alone drains the jobs they made. */
async function ingestThenDrain(photos: Buffer[]): Promise<{ ingest: Figure; drain: Figure }> {
  const product = await startProduct(NO_RATE_LIMITS, ['--api-only']);
  const database = new Client({ connectionString: product.databaseUrl });
  await database.connect();
  try {
    const token = await signUp(product);
    const before = productCpu(product);
    const started = performance.now();
    await ingest(product, token, photos);
    const ingestSeconds = (performance.now() - started) / 1000;
    const { api: apiCpu, postgres: postgresCpu } = perPhoto(before, productCpu(product), photos.length);

    const worker = startWorker(product, (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean));
    // The worker's CPU is counted from its first claim: its start-up (modules, connections) is not the work.
    await waitForFirstClaim(database);
    const workerBefore = treeCpuSeconds(worker.pid);
    const postgresBefore = productCpu(product).postgres;
    const span = await waitForJobs(database, photos.length);
    const workerCpu = treeCpuSeconds(worker.pid) - workerBefore;
    const afterDrain = productCpu(product);
    await worker.stop();
    // From the first job claimed to the last one finished: the worker's start-up is not the work.
    const drainSeconds = (span.finished.getTime() - span.started.getTime()) / 1000;
    return {
      ingest: { perSecond: photos.length / ingestSeconds, cpu: { api: apiCpu, postgres: postgresCpu } },
      drain: {
        perSecond: photos.length / drainSeconds,
        cpu: { worker: (workerCpu * 1000) / photos.length, postgres: ((afterDrain.postgres - postgresBefore) * 1000) / photos.length },
      },
    };
  } finally {
    await database.end();
    await product.stop();
  }
}

/** The product as `npm start` runs it: upload, queue, worker, completed. */
async function endToEnd(photos: Buffer[]): Promise<Figure> {
  const product = await startProduct(NO_RATE_LIMITS);
  const database = new Client({ connectionString: product.databaseUrl });
  await database.connect();
  try {
    const token = await signUp(product);
    const before = productCpu(product);
    const started = performance.now();
    await ingest(product, token, photos);
    await waitForJobs(database, photos.length);
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: photos.length / seconds, cpu: perPhoto(before, productCpu(product), photos.length) };
  } finally {
    await database.end();
    await product.stop();
  }
}

const cpuText = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([name, ms]) => `${name} ${ms.toFixed(1)}`)
    .join(' + ') + ' ms CPU a photo';

async function main(): Promise<void> {
  sharp.cache(false);
  const line = (label: string, value: string) => console.log(`${label.padEnd(48)} ${value}`);
  const concurrencies = [1, 2, 4].filter((n) => n <= Math.max(2, availableParallelism() * 2));
  for (const [width, height] of SIZES) {
    const photos = await makePhotos(PHOTOS, width, height);
    const bare: [number, Figure][] = [];
    for (const concurrency of concurrencies) bare.push([concurrency, await bareLoop(photos, concurrency)]);
    const [bestConcurrency, best] = [...bare].sort((a, b) => b[1].perSecond - a[1].perSecond)[0];
    const { ingest: ingested, drain } = await ingestThenDrain(photos);
    const product = await endToEnd(photos);
    console.log(`\n${PHOTOS} photographs, ${width}×${height} JPEG, ${JSON.stringify(JOB_SEQUENCE)}, PNG compression ${PNG_COMPRESSION}`);
    for (const [concurrency, figure] of bare)
      line(`bare sharp loop, concurrency ${concurrency}`, `${figure.perSecond.toFixed(1)} photos/s, ${cpuText(figure.cpu)}`);
    line(`bare sharp loop, best (concurrency ${bestConcurrency})`, `${best.perSecond.toFixed(1)} photos/s`);
    line('API ingest, no worker: upload + job', `${ingested.perSecond.toFixed(1)} /s, ${cpuText(ingested.cpu)} (target: api ≤ 8)`);
    line('worker alone, draining the queued jobs', `${drain.perSecond.toFixed(1)} jobs/s, ${cpuText(drain.cpu)}`);
    line('  worker / bare', `${(drain.perSecond / best.perSecond).toFixed(2)} (target ≥ 0.85)`);
    line('end to end: upload → queue → worker → completed', `${product.perSecond.toFixed(1)} photos/s, ${cpuText(product.cpu)}`);
    line(
      '  end to end / bare',
      `${(product.perSecond / best.perSecond).toFixed(2)} (target ≥ ${width * height >= 1920 * 1080 ? '0.60' : '0.40'})`,
    );
    line('  PostgreSQL CPU a job, end to end', `${product.cpu.postgres.toFixed(1)} ms (target ≤ 6)`);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
