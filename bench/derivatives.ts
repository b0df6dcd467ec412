import autocannon from 'autocannon';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import sharp from 'sharp';
import { THUMBNAIL_SIDE } from '../src/pipelines/operation-params';
import { operationRegistry } from '../src/worker/operation-registry';
import { openStepInput } from '../src/worker/process-pipeline';
import {
  childPid,
  deleteRedisKeys,
  inParallel,
  loadAverage,
  processCpuSeconds,
  RunningProduct,
  signUp,
  sleep,
  startProduct,
  startRedis,
  treeCpuSeconds,
  uploadPhoto,
} from './bench-support';
import { S3RVER_CREDENTIALS, startS3ServerProcess } from './s3-server';

/**
 * `npm run bench:derivatives`: issue 23's benchmark of derivatives by URL, `GET
 * /api/images/:id/derivatives/thumb_256` with a bearer token, on the product as `npm start` runs
 * it (API and its worker child, embedded PostgreSQL, queue on PostgreSQL, local files), then again
 * with the queue on Redis. Each backend also gets a second installation with STORAGE=s3 (s3rver,
 * in a process of its own) for the S3 figures.
 *
 * Photographs: PHOTOS distinct 4000×3000 JPEGs (quality 90), cut from the test fixture scaled up,
 * each with its own tint and its own random noise, so that no work is ever reused. Made once and
 * kept in DERIVATIVES_PHOTO_DIR (a directory under the system's tmp) for later runs.
 *
 * For each backend:
 * 0. The bare sharp loop on the same files, in this process with nothing else running: decode
 *    (EXIF-oriented), thumbnail 256 with thumbnail.operation.ts's options, WebP quality 80. First
 *    one photo at a time (the median of BARE_SINGLE photos is "one photo"), then
 *    WORKER_CONCURRENCY at a time (the worker's default: one a core) over every photo. Beside
 *    it, not a target: the preset's two steps as the worker's own operations run them.
 * Then, on each installation (local files, then S3):
 * 1. Cold. The photos are uploaded by 4 clients (not timed), and the bench waits until the
 *    worker's pass has decoded every original (it does so VERIFY_DELAY after an upload with no
 *    job), so that the pass does not run during the timed phases. Then 4 clients request each
 *    image's thumb_256 once: each request is a first request, which creates the job, waits for
 *    it and streams the file. Derivatives/s from the first request's start to the last answer's
 *    end, and the time to the first byte (the status line) of each; a 202 is asked again after
 *    Retry-After, and counted from its first request. The jobs' waits and run times come from
 *    the jobs table.
 * 2. Warm. After WARM_UP_SECONDS of the same traffic, autocannon with 16 connections for
 *    WARM_SECONDS, cycling the same URLs in order: req/s, p50 and p99.
 * 3. Conditional. The same with each URL's ETag (from the cold phase) in If-None-Match: req/s,
 *    p99 and the share of 304s.
 * In each phase the CPU of each process is read from /proc: the API process alone, the worker,
 * PostgreSQL with its backends, Redis, s3rver, and this process (the clients, autocannon).
 *
 * Settings are the defaults but for the rate limits on sign-ups, uploads and jobs, which would
 * stop the uploads. The queue on Redis uses REDIS_URL when it is set, else a redis-server of the
 * bench's own; its keys are under a prefix of the run's own, deleted afterwards.
 *
 * Knobs for a quick try: DERIVATIVES_PHOTOS (200), DERIVATIVES_WARM_SECONDS (10),
 * DERIVATIVES_BACKENDS (postgresql,redis; empty: only make the photographs), DERIVATIVES_STORAGES
 * (local,s3).
 */
const PHOTOS = Number(process.env.DERIVATIVES_PHOTOS ?? 200);
const WARM_SECONDS = Number(process.env.DERIVATIVES_WARM_SECONDS ?? 10);
const BACKENDS = (process.env.DERIVATIVES_BACKENDS ?? 'postgresql,redis')
  .toLowerCase()
  .split(',')
  .filter((name) => name === 'postgresql' || name === 'redis')
  .map((name): Backend => (name === 'redis' ? 'Redis' : 'PostgreSQL'));
const STORAGES = (process.env.DERIVATIVES_STORAGES ?? 'local,s3')
  .toLowerCase()
  .split(',')
  .filter((name): name is Storage => name === 'local' || name === 's3');
const PHOTO_DIR = process.env.DERIVATIVES_PHOTO_DIR ?? join(tmpdir(), 'darkroom-bench-derivatives-4000x3000-v1');
const WIDTH = 4000;
const HEIGHT = 3000;
const PRESET = 'thumb_256';
const WEBP_QUALITY = 80;
const CLIENTS = 4;
const CONNECTIONS = 16;
const WARM_UP_SECONDS = 3;
const BARE_SINGLE = 20;
/** The product's default (src/config/app-config.ts): one job slot a core, unless WORKER_CONCURRENCY says otherwise. */
const WORKER_CONCURRENCY = Number(process.env.WORKER_CONCURRENCY) > 0 ? Number(process.env.WORKER_CONCURRENCY) : cpus().length;
/** MAX_PIXELS' and PNG_COMPRESSION's defaults, which the worker runs with. */
const MAX_PIXELS = 50_000_000;
const PNG_COMPRESSION = 1;
/** How long the worker's pass may take to decode every upload: VERIFY_DELAY (30 s) twice, and the decodes. */
const VERIFY_TIMEOUT_MS = 240_000;
const SETTINGS = {
  AUTH_RATE_LIMIT: '0',
  JOB_RATE_LIMIT: '0',
  UPLOAD_RATE_LIMIT: '0',
  LOG_LEVEL: 'warn',
  // On Node 20 every process's S3 client would print the SDK's notice that its 2027 releases need Node 22, between the bench's lines.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
const RUN = Date.now().toString(36);

type Backend = 'PostgreSQL' | 'Redis';
type Storage = 'local' | 's3';

interface Bare {
  /** Median ms of one photo, alone. */
  singleMs: number;
  perSecond: number;
  /** CPU milliseconds a photo, WORKER_CONCURRENCY at a time. */
  cpuMs: number;
  /** The preset's two steps as the worker's own operations run them, WORKER_CONCURRENCY at a time. */
  steps: { perSecond: number; cpuMs: number };
}

/** CPU seconds by process name. */
type Cpu = Record<string, number>;

interface CpuUse {
  /** Per cent of one core over the phase, by process. */
  share: Record<string, number>;
  /** CPU milliseconds an answer, by process. */
  perAnswer: Record<string, number>;
  /** The whole machine's busy share, in per cent of all its cores. */
  machineBusy: number;
}

interface Cold {
  perSecond: number;
  ttfbP50: number;
  ttfbP95: number;
  /** Answers that were 202 first (the job not done within DERIVATIVE_WAIT). */
  retried: number;
  jobWaitP50: number;
  jobRunP50: number;
  jobRunP95: number;
  cpu: CpuUse;
}

interface Load {
  perSecond: number;
  p50: number;
  p99: number;
  total: number;
  /** Count of answers by status code. */
  statuses: Record<string, number>;
  errors: number;
  cpu: CpuUse;
}

interface Installation {
  storage: Storage;
  cold: Cold;
  warm: Load;
  conditional: Load;
}

interface BackendFigures {
  backend: Backend;
  bare: Bare;
  installations: Installation[];
}

// Photographs -----------------------------------------------------------------------------------

/**
 * PHOTOS distinct 4000×3000 JPEGs, from PHOTO_DIR when an earlier run made them: making one
 * takes about a second. The fixture is a 256-pixel image, so a random noise of each file's own
 * gives every file detail of its own, as a camera's sensor does, and sizes like a phone's.
 */
async function photoFiles(): Promise<string[]> {
  mkdirSync(PHOTO_DIR, { recursive: true });
  const names = Array.from({ length: PHOTOS }, (_, i) => join(PHOTO_DIR, `photo-${String(i).padStart(4, '0')}.jpg`));
  const missing = names.map((name, index) => ({ name, index })).filter(({ name }) => !existsSync(name));
  if (missing.length === 0) return names;
  console.error(`making ${missing.length} photographs of ${WIDTH}×${HEIGHT} in ${PHOTO_DIR} (kept for later runs)`);
  const margin = 400;
  const base = await sharp(join(__dirname, '..', '..', 'test', 'fixtures', 'astronaut.png'))
    .resize(WIDTH + margin, HEIGHT + margin, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const raw = { width: base.info.width, height: base.info.height, channels: 3 as const };
  await inParallel(missing, cpus().length, async ({ name, index }) => {
    const noise = await sharp({
      create: { width: WIDTH, height: HEIGHT, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 24 } },
    })
      .raw()
      .toBuffer();
    const jpeg = await sharp(base.data, { raw })
      .extract({ left: (index * 37) % margin, top: (index * 53) % margin, width: WIDTH, height: HEIGHT })
      .linear([0.8 + (index % 7) / 20, 0.8 + (index % 5) / 15, 0.8 + (index % 3) / 10], [(index % 11) * 2, 0, (index % 13) * 2])
      .composite([{ input: noise, raw: { width: WIDTH, height: HEIGHT, channels: 3 }, blend: 'overlay' }])
      .jpeg({ quality: 90 })
      .toBuffer();
    // Written whole under another name first: an interrupted run leaves no truncated photo behind.
    writeFileSync(`${name}.partial`, jpeg);
    renameSync(`${name}.partial`, name);
  });
  return names;
}

// The bare loop ---------------------------------------------------------------------------------

/** What the derivative's work is without the product: the same decode, resize and encode. */
async function bareThumbnail(photo: Buffer): Promise<Buffer> {
  return sharp(photo, { limitInputPixels: MAX_PIXELS, failOn: 'error' })
    .rotate()
    .resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: WEBP_QUALITY })
    .toBuffer();
}

/**
 * Not the issue's bare loop, but what tells the product's own cost from its extra pixel work: the
 * preset's steps as the worker runs them, each encoding its output and computing its
 * placeholders, the thumbnail's JPEG decoded again by the convert step.
 */
async function workerSteps(photo: Buffer): Promise<void> {
  const context = { pngCompression: PNG_COMPRESSION };
  const thumbnail = await operationRegistry.get('thumbnail')!.run(openStepInput({ data: photo }, MAX_PIXELS), {}, context);
  await operationRegistry.get('convert')!.run(openStepInput(thumbnail, MAX_PIXELS), { format: 'webp', quality: WEBP_QUALITY }, context);
}

/** Photos a second and CPU milliseconds a photo of `work` over `photos`, WORKER_CONCURRENCY at a time. */
async function rate(photos: Buffer[], work: (photo: Buffer) => Promise<unknown>): Promise<{ perSecond: number; cpuMs: number }> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await inParallel(photos, WORKER_CONCURRENCY, async (photo) => {
    await work(photo);
  });
  const cpu = process.cpuUsage(cpuBefore);
  return { perSecond: photos.length / ((performance.now() - started) / 1000), cpuMs: (cpu.user + cpu.system) / 1000 / photos.length };
}

async function measureBare(photos: Buffer[]): Promise<Bare> {
  // libvips' first calls load its modules: not a photo's work.
  await bareThumbnail(photos[0]);
  await workerSteps(photos[0]);
  const single: number[] = [];
  for (const photo of photos.slice(0, BARE_SINGLE)) {
    const started = performance.now();
    await bareThumbnail(photo);
    single.push(performance.now() - started);
  }
  const bare = await rate(photos, bareThumbnail);
  return { singleMs: percentile(single, 50), ...bare, steps: await rate(photos, workerSteps) };
}

// Measuring -------------------------------------------------------------------------------------

/** The nearest-rank percentile `p` (0–100) of `values`. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Busy and total CPU ticks of the whole machine so far (/proc/stat's first line). */
function machineTicks(): { busy: number; total: number } {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((sum, tick) => sum + tick, 0);
  // Idle, and waiting on I/O with nothing to run, are the cores' free time.
  return { busy: total - ticks[3] - ticks[4], total };
}

/** The processes of one installation whose CPU is read, by name. */
interface Processes {
  api: number;
  worker: number | null;
  postgres: number | null;
  redis: number | null;
  s3rver: number | null;
}

function readCpu(processes: Processes): Cpu {
  const own = process.cpuUsage();
  const cpu: Cpu = {
    // The API process alone: its children are the worker and PostgreSQL, read apart.
    API: processCpuSeconds(processes.api),
    worker: processes.worker === null ? 0 : treeCpuSeconds(processes.worker),
    PostgreSQL: processes.postgres === null ? 0 : treeCpuSeconds(processes.postgres),
    // The clients, autocannon and the bare loop run in this process.
    bench: (own.user + own.system) / 1e6,
  };
  if (processes.redis !== null) cpu.Redis = processCpuSeconds(processes.redis);
  if (processes.s3rver !== null) cpu.s3rver = processCpuSeconds(processes.s3rver);
  return cpu;
}

/** Runs `phase` and answers, beside its result, the CPU each process used over it. */
async function withCpu<T>(processes: Processes, answers: (result: T) => number, phase: () => Promise<T>): Promise<[T, CpuUse]> {
  const before = readCpu(processes);
  const machineBefore = machineTicks();
  const started = performance.now();
  const result = await phase();
  const seconds = (performance.now() - started) / 1000;
  const after = readCpu(processes);
  const machineAfter = machineTicks();
  const count = answers(result);
  const used = Object.fromEntries(Object.keys(after).map((name) => [name, after[name] - before[name]]));
  return [
    result,
    {
      share: Object.fromEntries(Object.entries(used).map(([name, cpu]) => [name, (100 * cpu) / seconds])),
      perAnswer: Object.fromEntries(Object.entries(used).map(([name, cpu]) => [name, (1000 * cpu) / count])),
      machineBusy: (100 * (machineAfter.busy - machineBefore.busy)) / (machineAfter.total - machineBefore.total),
    },
  ];
}

interface Answer {
  status: number;
  ttfbMs: number;
  etag: string | undefined;
  retryAfter: number;
}

/** One GET, timed to its status line (the first byte), its body read to the end. */
function timedGet(url: string, headers: Record<string, string>, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const outgoing = request(url, { headers, agent }, (response) => {
      const ttfbMs = performance.now() - started;
      response.on('data', () => undefined);
      response.on('error', reject);
      response.on('end', () =>
        resolve({
          status: response.statusCode!,
          ttfbMs,
          etag: response.headers.etag,
          retryAfter: Number(response.headers['retry-after'] ?? 1),
        }),
      );
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

const derivativePath = (imageId: number) => `/api/images/${imageId}/derivatives/${PRESET}`;

interface ColdRequests {
  ttfbs: number[];
  etags: string[];
  retried: number;
  seconds: number;
}

/** Every image's derivative, requested once each by CLIENTS clients at a time: every request is a first one. */
async function requestCold(product: RunningProduct, token: string, imageIds: number[]): Promise<ColdRequests> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const ttfbs: number[] = [];
  const etags: string[] = [];
  let retried = 0;
  const started = performance.now();
  try {
    await inParallel(imageIds, CLIENTS, async (imageId, index) => {
      const asked = performance.now();
      for (let attempt = 1; ; attempt++) {
        const sent = performance.now();
        const answer = await timedGet(`${product.url}${derivativePath(imageId)}`, { Authorization: `Bearer ${token}` }, agent);
        if (answer.status === 200) {
          // A client that was told to come back waited from its first request.
          ttfbs[index] = sent + answer.ttfbMs - asked;
          etags[index] = answer.etag!;
          break;
        }
        if (answer.status !== 202 || attempt > 30) throw new Error(`GET ${derivativePath(imageId)}: ${answer.status}`);
        if (attempt === 1) retried++;
        await sleep(answer.retryAfter * 1000);
      }
    });
  } finally {
    agent.destroy();
  }
  return { ttfbs, etags, retried, seconds: (performance.now() - started) / 1000 };
}

/** The jobs' waits in the queue (created → started) and run times (started → finished), in ms. */
async function jobTimes(db: Client): Promise<{ waits: number[]; runs: number[] }> {
  const { rows } = await db.query(
    `SELECT extract(epoch FROM started_at - created_at)::float8 * 1000 AS wait_ms,
            extract(epoch FROM finished_at - started_at)::float8 * 1000 AS run_ms
       FROM jobs WHERE status = 'completed'`,
  );
  return { waits: rows.map((row) => row.wait_ms), runs: rows.map((row) => row.run_ms) };
}

/** Autocannon on the derivatives' URLs, each connection going through them in order; `etags` adds If-None-Match. */
async function load(
  product: RunningProduct,
  token: string,
  imageIds: number[],
  seconds: number,
  etags?: string[],
): Promise<autocannon.Result> {
  const requests = imageIds.map((imageId, index) => ({
    method: 'GET' as const,
    path: derivativePath(imageId),
    headers: { Authorization: `Bearer ${token}`, ...(etags ? { 'If-None-Match': etags[index] } : {}) },
  }));
  return autocannon({ url: product.url, connections: CONNECTIONS, duration: seconds, requests });
}

function loadFigures(result: autocannon.Result, cpu: CpuUse): Load {
  const statuses = Object.fromEntries(
    Object.entries((result as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats).map(([code, stat]) => [
      code,
      stat.count,
    ]),
  );
  return {
    perSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    statuses,
    errors: result.errors + result.timeouts,
    cpu,
  };
}

/** Polls until the worker's pass has decoded each of `imageIds`; answers the seconds waited. */
async function waitForVerified(db: Client, imageIds: number[]): Promise<number> {
  const started = performance.now();
  for (;;) {
    const { rows } = await db.query('SELECT count(*)::int AS remaining FROM images WHERE id = ANY($1) AND verified_at IS NULL', [imageIds]);
    if (rows[0].remaining === 0) return (performance.now() - started) / 1000;
    if (performance.now() - started > VERIFY_TIMEOUT_MS)
      throw new Error(`${rows[0].remaining} uploads were still not decoded by the worker's pass`);
    await sleep(1000);
  }
}

/** One installation: upload, then the three phases. */
async function measureInstallation(
  backend: Backend,
  storage: Storage,
  redis: { url: string; pid: number | null } | null,
  photos: Buffer[],
): Promise<Installation> {
  const prefix = `benchderiv${RUN}${storage}`;
  const s3 = storage === 's3' ? await startS3ServerProcess(`derivatives-${backend.toLowerCase()}`) : null;
  let product: RunningProduct | undefined;
  let db: Client | undefined;
  try {
    product = await startProduct({
      ...SETTINGS,
      ...(redis ? { REDIS_URL: redis.url, QUEUE_PREFIX: prefix } : {}),
      ...(s3
        ? {
            STORAGE: 's3',
            S3_BUCKET: `derivatives-${backend.toLowerCase()}`,
            S3_ENDPOINT: s3.endpoint,
            S3_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
            S3_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
          }
        : {}),
    });
    const running = product;
    db = new Client({ connectionString: running.databaseUrl });
    await db.connect();
    const processes: Processes = {
      api: running.pid,
      worker: childPid(running.pid, 'worker.main.js'),
      postgres: childPid(running.pid, 'bin/postgres'),
      redis: redis?.pid ?? null,
      s3rver: s3 ? childPid(process.pid, 's3-server-process.js') : null,
    };
    const label = `${backend}, ${storage === 's3' ? 'S3 (s3rver)' : 'local files'}`;
    const token = await signUp(running, 'derivatives');
    const imageIds: number[] = [];
    const uploadStarted = performance.now();
    await inParallel(photos, CLIENTS, async (photo, index) => {
      imageIds[index] = await uploadPhoto(running, token, photo, index);
    });
    const uploadSeconds = (performance.now() - uploadStarted) / 1000;
    const waited = await waitForVerified(db, imageIds);
    console.error(
      `${label}: ${photos.length} uploads in ${uploadSeconds.toFixed(1)} s; the worker's pass had decoded them ${waited.toFixed(0)} s later`,
    );

    const [cold, coldCpu] = await withCpu(
      processes,
      () => photos.length,
      () => requestCold(running, token, imageIds),
    );
    const times = await jobTimes(db);
    if (times.runs.length !== photos.length) throw new Error(`${times.runs.length} jobs completed for ${photos.length} derivatives`);
    console.error(`${label}: cold, ${(photos.length / cold.seconds).toFixed(2)} derivatives/s`);

    await load(running, token, imageIds, WARM_UP_SECONDS);
    const [warm, warmCpu] = await withCpu(
      processes,
      (result) => result.requests.total,
      () => load(running, token, imageIds, WARM_SECONDS),
    );
    console.error(`${label}: warm, ${Math.round(warm.requests.average)} req/s`);
    const [conditional, conditionalCpu] = await withCpu(
      processes,
      (result) => result.requests.total,
      () => load(running, token, imageIds, WARM_SECONDS, cold.etags),
    );
    console.error(`${label}: conditional, ${Math.round(conditional.requests.average)} req/s`);
    return {
      storage,
      cold: {
        perSecond: photos.length / cold.seconds,
        ttfbP50: percentile(cold.ttfbs, 50),
        ttfbP95: percentile(cold.ttfbs, 95),
        retried: cold.retried,
        jobWaitP50: percentile(times.waits, 50),
        jobRunP50: percentile(times.runs, 50),
        jobRunP95: percentile(times.runs, 95),
        cpu: coldCpu,
      },
      warm: loadFigures(warm, warmCpu),
      conditional: loadFigures(conditional, conditionalCpu),
    };
  } finally {
    await db?.end().catch(() => undefined);
    await product?.stop();
    await s3?.stop();
    if (redis) await deleteRedisKeys(redis.url, prefix);
  }
}

async function measureBackend(
  backend: Backend,
  redis: { url: string; pid: number | null } | null,
  photos: Buffer[],
): Promise<BackendFigures> {
  const bare = await measureBare(photos);
  console.error(`${backend}: bare loop ${bare.perSecond.toFixed(2)} photos/s, one photo ${bare.singleMs.toFixed(0)} ms`);
  const installations: Installation[] = [];
  for (const storage of STORAGES) installations.push(await measureInstallation(backend, storage, redis, photos));
  return { backend, bare, installations };
}

// Printing --------------------------------------------------------------------------------------

const met = (ok: boolean) => (ok ? 'met' : '**missed**');
const ms = (value: number) => `${value.toFixed(0)} ms`;
const whole = (value: number) => Math.round(value).toLocaleString('en');
const cpuCells = (cpu: CpuUse, unit: 'share' | 'perAnswer') =>
  Object.entries(cpu[unit])
    .map(([name, value]) => (unit === 'share' ? `${name} ${value.toFixed(0)} %` : `${name} ${value.toFixed(value < 10 ? 2 : 0)}`))
    .join(', ');

function printTable(results: BackendFigures[]): void {
  const rows: string[][] = [];
  const row = (measure: string, cells: (figures: BackendFigures) => string, target = '') =>
    rows.push([measure, ...results.map(cells), target]);
  const at = (figures: BackendFigures, storage: Storage) => figures.installations.find((i) => i.storage === storage);
  const each = (storage: Storage, cell: (installation: Installation, figures: BackendFigures) => string) => (figures: BackendFigures) => {
    const installation = at(figures, storage);
    return installation ? cell(installation, figures) : '—';
  };

  row(`bare sharp loop, ${WORKER_CONCURRENCY} at a time: photos/s`, (f) => f.bare.perSecond.toFixed(2));
  row(`bare sharp loop, one photo alone (median of ${Math.min(BARE_SINGLE, PHOTOS)})`, (f) => ms(f.bare.singleMs));
  row('bare sharp loop: CPU ms a photo', (f) => f.bare.cpuMs.toFixed(1));
  row(
    `not a target: the preset's 2 steps as the worker's operations, ${WORKER_CONCURRENCY} at a time: photos/s, CPU ms a photo`,
    (f) => `${f.bare.steps.perSecond.toFixed(2)}, ${f.bare.steps.cpuMs.toFixed(1)}`,
  );
  for (const storage of STORAGES) {
    const where = storage === 's3' ? 'S3' : 'local';
    const targets = storage === 'local';
    row(
      `cold (${where}): derivatives/s, ${CLIENTS} clients`,
      each(
        storage,
        (i, f) =>
          `${i.cold.perSecond.toFixed(2)} = ${(i.cold.perSecond / f.bare.perSecond).toFixed(2)} × bare ` +
          `(${(i.cold.perSecond / f.bare.steps.perSecond).toFixed(2)} × the 2 steps)`,
      ),
      targets ? '≥ 0.7 × bare' : '',
    );
    if (targets)
      row(
        'cold: throughput target',
        each(storage, (i, f) => met(i.cold.perSecond >= 0.7 * f.bare.perSecond)),
      );
    row(
      `cold (${where}): time to first byte p50 / p95`,
      each(
        storage,
        (i) => `${ms(i.cold.ttfbP50)} / ${ms(i.cold.ttfbP95)}${i.cold.retried ? ` (${i.cold.retried} answered 202 first)` : ''}`,
      ),
      targets ? 'p50 ≤ bare one photo + 100 ms' : '',
    );
    if (targets)
      row(
        'cold: time to first byte target',
        each(storage, (i, f) => `${met(i.cold.ttfbP50 <= f.bare.singleMs + 100)} (≤ ${ms(f.bare.singleMs + 100)})`),
      );
    row(
      `cold (${where}): job's wait p50, run p50 / p95`,
      each(storage, (i) => `${ms(i.cold.jobWaitP50)}, ${ms(i.cold.jobRunP50)} / ${ms(i.cold.jobRunP95)}`),
    );
    row(
      `cold (${where}): CPU ms a derivative`,
      each(storage, (i) => cpuCells(i.cold.cpu, 'perAnswer')),
    );
    row(
      `cold (${where}): CPU, % of one core`,
      each(storage, (i) => `${cpuCells(i.cold.cpu, 'share')}; machine ${i.cold.cpu.machineBusy.toFixed(0)} % busy`),
    );
    for (const [phase, pick] of [
      ['warm', (i: Installation) => i.warm],
      ['conditional', (i: Installation) => i.conditional],
    ] as const) {
      const failed = (l: Load) => {
        const expected = phase === 'warm' ? '200' : '304';
        const other = l.total - (l.statuses[expected] ?? 0);
        return other > 0 || l.errors > 0 ? ` (${other} not ${expected}, ${l.errors} errors)` : '';
      };
      row(
        `${phase} (${where}): req/s, p50 / p99, ${CONNECTIONS} connections ${WARM_SECONDS} s`,
        each(storage, (i) => `${whole(pick(i).perSecond)} req/s, ${pick(i).p50} / ${pick(i).p99} ms${failed(pick(i))}`),
        phase === 'warm' && targets ? '≥ 2,000 req/s, p99 < 20 ms' : '',
      );
      if (phase === 'warm' && targets) {
        row(
          'warm: target',
          each(storage, (i) => met(i.warm.perSecond >= 2000 && i.warm.p99 < 20)),
        );
      }
      if (phase === 'conditional') {
        row(
          `conditional (${where}): 304 rate`,
          each(storage, (i) => `${((100 * (i.conditional.statuses['304'] ?? 0)) / i.conditional.total).toFixed(1)} %`),
        );
      }
      row(
        `${phase} (${where}): CPU ms a request`,
        each(storage, (i) => cpuCells(pick(i).cpu, 'perAnswer')),
      );
      row(
        `${phase} (${where}): CPU, % of one core`,
        each(storage, (i) => `${cpuCells(pick(i).cpu, 'share')}; machine ${pick(i).cpu.machineBusy.toFixed(0)} % busy`),
      );
    }
  }
  const header = ['measure', ...results.map((f) => `queue on ${f.backend}`), 'target'];
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const cells of rows) console.log(`| ${cells.join(' | ')} |`);
}

async function main(): Promise<void> {
  // Redis is chosen here, and the database is the embedded one: the shell's own would bypass both.
  const sharedRedis = process.env.REDIS_URL;
  delete process.env.REDIS_URL;
  delete process.env.DATABASE_URL;
  const files = await photoFiles();
  const photos = files.map((file) => readFileSync(file));
  const megabytes = photos.reduce((sum, photo) => sum + photo.length, 0) / photos.length / 1024 ** 2;
  console.log(
    `bench:derivatives: ${photos.length} distinct ${WIDTH}×${HEIGHT} JPEGs (quality 90, ${megabytes.toFixed(1)} MB on average), ` +
      `GET /api/images/:id/derivatives/${PRESET} (thumbnail ${THUMBNAIL_SIDE}, then WebP quality ${WEBP_QUALITY}); ` +
      `Node ${process.version}, ${cpus().length} cores; load average before: ${loadAverage()}`,
  );
  const results: BackendFigures[] = [];
  for (const backend of BACKENDS) {
    if (backend === 'PostgreSQL') {
      results.push(await measureBackend(backend, null, photos));
      continue;
    }
    const own = sharedRedis ? null : await startRedis();
    if (!sharedRedis && !own) {
      console.log('No redis-server on this machine and no REDIS_URL: the queue on Redis is not measured.');
      continue;
    }
    try {
      results.push(await measureBackend(backend, sharedRedis ? { url: sharedRedis, pid: null } : own, photos));
    } finally {
      await own?.stop();
    }
  }
  console.log('');
  printTable(results);
  console.log('');
  for (const figures of results) {
    const local = figures.installations.find((i) => i.storage === 'local');
    console.log(
      `queue on ${figures.backend}: bare loop ${figures.bare.perSecond.toFixed(2)} photos/s (12 MP JPEG → ${THUMBNAIL_SIDE}-pixel WebP, ` +
        `${WORKER_CONCURRENCY} at a time), the product ${local ? `${(local.cold.perSecond / figures.bare.perSecond).toFixed(2)} of it` : 'not measured on local files'}`,
    );
  }
  console.log(
    'reference, not comparable hardware: imgproxy publishes about 80 req/s for JPEG resized to 512 px ' +
      '(DIV2K photos) on a 2-vCPU c7i.large',
  );
  console.log(`load average after: ${loadAverage()}`);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
