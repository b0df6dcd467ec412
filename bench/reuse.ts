import { Client } from 'pg';
import { api, childPid, inParallel, makePhotos, RunningProduct, signUp, startProduct, treeCpuSeconds, uploadPhoto } from './bench-support';

const PHOTOS = Number(process.env.BENCH_PHOTOS ?? 200);
const CLIENTS = 4;
const SEQUENCE = ['process', 'grayscale', 'histogram'];

interface Run {
  seconds: number;
  cpuSeconds: number;
  /** CPU seconds of the API process, the worker process and PostgreSQL. */
  split: [number, number, number];
  reusedSteps: number;
}

/** CPU seconds so far of the product's whole process tree, then of the API, the worker and PostgreSQL apart. */
function cpuOf(product: RunningProduct): number[] {
  const total = treeCpuSeconds(product.pid);
  const worker = treeCpuSeconds(childPid(product.pid, 'worker.main.js') ?? -1);
  const postgres = treeCpuSeconds(childPid(product.pid, 'bin/postgres') ?? -1);
  return [total, total - worker - postgres, worker, postgres];
}

/**
 * Creates one job per image in one POST /api/jobs/batch.json, as a client re-running a pipeline
 * over its photos would, and waits, reading the database so that watching costs the product
 * nothing, until every one is completed.
 */
async function runPipeline(product: RunningProduct, database: Client, token: string, imageIds: number[]): Promise<Run> {
  const cpuBefore = cpuOf(product);
  const started = performance.now();
  const created: { status: number; job?: { id: number }; error?: string }[] = await api(product.url, token, '/api/jobs/batch.json', {
    method: 'POST',
    body: JSON.stringify({ jobs: imageIds.map((imageId) => ({ image_id: imageId, job_sequence: SEQUENCE })) }),
  });
  const refused = created.find((item) => item.status !== 201);
  if (refused) throw new Error(`A job was refused: ${JSON.stringify(refused)}`);
  const jobIds = created.map((item) => item.job!.id);
  for (;;) {
    const { rows } = await database.query(
      `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'failed')::int AS failed,
              coalesce(sum(cardinality(reused_steps)), 0)::int AS reused FROM jobs WHERE id = ANY($1)`,
      [jobIds],
    );
    if (rows[0].failed > 0) throw new Error(`${rows[0].failed} jobs failed`);
    if (rows[0].completed === jobIds.length) {
      const [total, apiCpu, workerCpu, postgresCpu] = cpuOf(product).map((value, index) => value - cpuBefore[index]);
      return {
        seconds: (performance.now() - started) / 1000,
        cpuSeconds: total,
        split: [apiCpu, workerCpu, postgresCpu],
        reusedSteps: rows[0].reused,
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `npm run bench:reuse`: PHOTOS 1920×1080 photographs through ["process", "grayscale",
 * "histogram"] on the product as `npm start` runs it, then the same pipeline on the same images
 * again, which reuses every step. Prints the time and the CPU of the product's whole process tree
 * (API, worker, PostgreSQL) for both runs.
 */
async function main(): Promise<void> {
  const photos = await makePhotos(PHOTOS);
  const product = await startProduct({ AUTH_RATE_LIMIT: '0', JOB_RATE_LIMIT: '0', UPLOAD_RATE_LIMIT: '0' });
  const database = new Client({ connectionString: product.databaseUrl });
  await database.connect();
  try {
    const token = await signUp(product);
    const imageIds: number[] = [];
    await inParallel(photos, CLIENTS, async (photo, index) => {
      imageIds.push(await uploadPhoto(product, token, photo, index));
    });
    const first = await runPipeline(product, database, token, imageIds);
    const again = await runPipeline(product, database, token, imageIds);
    const line = (label: string, value: string) => console.log(`${label.padEnd(40)} ${value}`);
    const perPhoto = (seconds: number) => `${((seconds / PHOTOS) * 1000).toFixed(1)} ms`;
    const describe = (run: Run) =>
      `${run.seconds.toFixed(2)} s, ${run.cpuSeconds.toFixed(2)} CPU s, ${run.reusedSteps} steps reused; CPU a photo: ` +
      `${perPhoto(run.cpuSeconds)} = API ${perPhoto(run.split[0])} + worker ${perPhoto(run.split[1])} + PostgreSQL ${perPhoto(run.split[2])}`;
    console.log(`\n${PHOTOS} photographs, 1920×1080 JPEG, ${JSON.stringify(SEQUENCE)}, the product's whole process tree`);
    line('first run', describe(first));
    line('the same pipeline again', describe(again));
    line('repeated / first, time', `${((again.seconds / first.seconds) * 100).toFixed(1)} % (target < 10 %)`);
    line('repeated / first, CPU', `${((again.cpuSeconds / first.cpuSeconds) * 100).toFixed(1)} % (target < 10 %)`);
    line('repeated / first, worker CPU alone', `${((again.split[1] / first.split[1]) * 100).toFixed(1)} %`);
  } finally {
    await database.end();
    await product.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
