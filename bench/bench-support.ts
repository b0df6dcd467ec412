import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import sharp from 'sharp';
import { freePort } from '../src/common/free-port';
import { withDatabase } from '../src/database/database-admin';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import type { S3Traffic } from './s3-server';

export interface RunningProduct {
  url: string;
  adminToken: string;
  /** The embedded PostgreSQL's database, for seeding. */
  databaseUrl: string;
  /** The API process, whose child is the worker (unless started with --api-only). */
  pid: number;
  /** The environment the product runs with, for a worker started beside it. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/** A worker process started on its own beside an `--api-only` product, as `npm run start:worker` runs one. */
export interface RunningWorker {
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the product as `npm start` does (API plus a worker child, embedded PostgreSQL unless
 * DATABASE_URL is set) in a scratch DATA_DIR (env.DATA_DIR if given), and waits until it answers.
 * `args` go to main.js (`--api-only`: no worker), `nodeArgs` to node itself (e.g. --cpu-prof).
 */
export async function startProduct(env: NodeJS.ProcessEnv = {}, args: string[] = [], nodeArgs: string[] = []): Promise<RunningProduct> {
  const port = await freePort();
  const databasePort = await freePort();
  // A caller may hand over a DATA_DIR it prepared (an embedded cluster configured beforehand); it is removed at stop all the same.
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'darkroom-bench-'));
  const adminToken = 'bench-admin-token-0123456789';
  const productEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    EMBEDDED_PG_PORT: String(databasePort),
    DATA_DIR: dataDir,
    ADMIN_TOKEN: adminToken,
    ...env,
  };
  // BENCH_PRODUCT_LOG names a file for the product's log, to read where a figure's time went.
  const log = process.env.BENCH_PRODUCT_LOG ? openSync(process.env.BENCH_PRODUCT_LOG, 'a') : 'ignore';
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, join(__dirname, '..', 'src', 'main.js'), ...args], {
    env: productEnv,
    stdio: ['ignore', log, 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 250) {
    if (child.exitCode !== null) throw new Error(`The product exited with code ${child.exitCode}`);
    if (
      await fetch(`${url}/api/docs-json`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (waited > 60_000) throw new Error('The product did not start within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // Only the embedded PostgreSQL keeps a password under DATA_DIR: a DATABASE_URL given carries its own.
  const databaseUrl =
    productEnv.DATABASE_URL ??
    `postgres://postgres:${readFileSync(join(dataDir, 'postgres', 'password'), 'utf8').trim()}@127.0.0.1:${databasePort}/darkroom`;
  return {
    url,
    adminToken,
    databaseUrl,
    pid: child.pid!,
    env: { ...productEnv, DATABASE_URL: databaseUrl },
    // The scratch DATA_DIR holds the embedded database: gigabytes after a million histograms.
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          rmSync(dataDir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Signs a new user up on the product and answers its bearer token. */
export async function signUp(product: RunningProduct, prefix = 'bench'): Promise<string> {
  const username = `${prefix}${Date.now()}`;
  const user = await api(product.url, '', '/api/users.json', {
    method: 'POST',
    body: JSON.stringify({ username, email: `${username}@example.com`, password: 'bench-password' }),
  });
  return user.authentication_token;
}

/** A 64×64 grey PNG stored as the user's image, for jobs whose pixel work should cost nothing; answers its id. */
export async function uploadTinyImage(product: RunningProduct, token: string): Promise<number> {
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  const image = await api(product.url, token, '/api/images.json', { method: 'POST', body: '{}' });
  const uploaded = await fetch(`${product.url}/api/images/${image.id}/file`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'image/png' },
    body: png,
  });
  if (!uploaded.ok) throw new Error(`upload: ${uploaded.status} ${await uploaded.text()}`);
  return image.id;
}

/** A worker process on the product's database, queue and files; `nodeArgs` go to node itself (e.g. --cpu-prof). */
export function startWorker(product: RunningProduct, nodeArgs: string[] = []): RunningWorker {
  const child = spawn(process.execPath, [...nodeArgs, join(__dirname, '..', 'src', 'worker.main.js')], {
    env: product.env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { pid: child.pid!, stop: () => stopChild(child) };
}

/**
 * A worker beside `product` once it serves its metrics (its modules are up). With `ownDataDir`
 * it runs in a DATA_DIR of its own, removed at stop, as on another machine (files on S3);
 * otherwise in the product's, sharing its local file store.
 */
export async function startReadyWorker(product: RunningProduct, { ownDataDir }: { ownDataDir: boolean }): Promise<RunningWorker> {
  const dataDir = ownDataDir ? mkdtempSync(join(tmpdir(), 'darkroom-bench-worker-')) : product.env.DATA_DIR;
  const metricsPort = await freePort();
  const worker = startWorker({ ...product, env: { ...product.env, DATA_DIR: dataDir, WORKER_METRICS_PORT: String(metricsPort) } });
  for (let waited = 0; ; waited += 100) {
    if (
      await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(
        () => true,
        () => false,
      )
    )
      break;
    if (waited > 60_000) throw new Error('A worker did not start within 60 s');
    await sleep(100);
  }
  return {
    pid: worker.pid,
    stop: async () => {
      await worker.stop();
      if (ownDataDir) rmSync(dataDir!, { recursive: true, force: true });
    },
  };
}

/** Sends SIGTERM to `child` and waits until it has exited. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function inParallel<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index], index);
    }
  });
  await Promise.all(lanes);
}

export async function api<T = any>(url: string, token: string, path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body as T;
}

/** The peak resident memory (VmHWM) of `parentPid`'s child running `script`, in MB. */
export function peakMemoryOfChild(parentPid: number, script: string): number | null {
  const status = statusOfChild(parentPid, script);
  return status ? Number(/VmHWM:\s+(\d+) kB/.exec(status.text)?.[1]) / 1024 : null;
}

/**
 * Sets the peak resident memory (VmHWM) of process `pid` back to its current resident memory, so
 * that a later peakMemoryOfChild tells the peak since now; answers false where the kernel refuses.
 */
export function resetPeakMemory(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** The process id of `parentPid`'s child running `script`. */
export function childPid(parentPid: number, script: string): number | null {
  return statusOfChild(parentPid, script)?.pid ?? null;
}

function statusOfChild(parentPid: number, script: string): { pid: number; text: string } | null {
  for (const pid of readdirSync('/proc').filter((entry) => /^[0-9]+$/.test(entry))) {
    try {
      const text = readFileSync(`/proc/${pid}/status`, 'utf8');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (Number(/PPid:\s+(\d+)/.exec(text)?.[1]) === parentPid && cmdline.includes(script)) return { pid: Number(pid), text };
    } catch {
      // The process ended while being read.
    }
  }
  return null;
}

/** `count` different `width`×`height` JPEG photographs, cut from a real photo (the test fixture) at varying offsets and brightness. */
export async function makePhotos(count: number, width = 1920, height = 1080): Promise<Buffer[]> {
  const source = await sharp(join(__dirname, '..', '..', 'test', 'fixtures', 'astronaut.png'))
    .resize(Math.max(2400, width + 480), Math.max(2400, height + 1320))
    .toBuffer();
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      sharp(source)
        .extract({ left: (i * 7) % 480, top: (i * 13) % 1320, width, height })
        .modulate({ brightness: 0.8 + (i % 10) / 25 })
        .jpeg({ quality: 90 })
        .toBuffer(),
    ),
  );
}

/** CPU seconds (user + system) used so far by the process `pid` itself, its children left out. */
export function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds (user + system) used so far by `rootPid` and every process below it, including
 * children that already exited and were waited for: for the product, the API, its worker child
 * and the embedded PostgreSQL with its backends. The trees of `exclude` are left out.
 */
export function treeCpuSeconds(rootPid: number, exclude: number[] = []): number {
  const ticksPerSecond = 100;
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {
    try {
      // Fields after the command name, which is in parentheses and may hold spaces.
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1].split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks });
    } catch {
      // The process ended while being read.
    }
  }
  let total = 0;
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    if (exclude.includes(pid)) continue;
    total += stats.get(pid)?.ticks ?? 0;
    for (const [child, stat] of stats) if (stat.ppid === pid) pending.push(child);
  }
  return total / ticksPerSecond;
}

/** The pipeline the statement and cluster benches run on each photograph. */
export const JOB_SEQUENCE = ['process', 'grayscale', 'histogram'];
/** Clients uploading and creating jobs at once. */
const CLIENTS = 4;
/** Longer than PostgreSQL's 10 s idle interval for flushing a backend's pending statistics. */
const SETTLE_SECONDS = 11;
const ROLE_PASSWORD = 'bench-statements';
/** Role of each process; the API keeps the cluster's own `postgres`. */
const ROLES = { api: 'postgres', worker: 'bench_worker', monitor: 'bench_monitor' } as const;
export type Process = 'api' | 'worker';

export interface Statement {
  process: Process;
  toplevel: boolean;
  query: string;
  calls: number;
  meanMs: number;
}

export interface Transactions {
  committed: number;
  rolledBack: number;
}

export interface PhaseFigures {
  name: string;
  statements: Statement[];
  /** Transactions ended in the database, the bench's own taken out. */
  transactions: Transactions;
  /** Redis commands by name, the bench's own INFO taken out; null with the queue on PostgreSQL. */
  redis: Map<string, number> | null;
  /** CPU milliseconds by process. */
  cpu: Record<string, number>;
  /** What happened around the phase. */
  note?: string;
  /** The worker's statements up to its first claim, counted in `statements` too. */
  startup?: Statement[];
  /** Requests to the file store, when it is S3 behind a counting proxy. */
  s3?: S3Traffic;
}

/** A cluster under `dataDir/postgres`, as the product would create it, set to load and fill pg_stat_statements. */
async function prepareCluster(dataDir: string): Promise<void> {
  const server = await startEmbeddedPostgres({ dir: join(dataDir, 'postgres'), port: await freePort() });
  const client = new Client({ connectionString: server.serverUrl('postgres') });
  await client.connect();
  try {
    await client.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
    // Statements run inside functions and triggers, and BEGIN/COMMIT, are statements too.
    await client.query("ALTER SYSTEM SET pg_stat_statements.track = 'all'");
    await client.query('ALTER SYSTEM SET pg_stat_statements.track_utility = on');
    for (const role of [ROLES.worker, ROLES.monitor]) {
      await client.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${ROLE_PASSWORD}'`);
    }
  } finally {
    await client.end();
    await server.stop();
  }
}

const asRole = (url: string, role: string) => {
  const parsed = new URL(url);
  parsed.username = role;
  parsed.password = ROLE_PASSWORD;
  return parsed.toString();
};

/**
 * The bench's own connections: one to the `postgres` database reads the statistics, so that its
 * transactions are not the product database's; one to the product's database watches the jobs
 * table, and counts its transactions to take them out.
 */
class Monitor {
  private watches = 0;

  private constructor(
    private readonly stats: Client,
    private readonly jobs: Client,
    private readonly databaseId: number,
  ) {}

  static async open(product: RunningProduct): Promise<Monitor> {
    const url = asRole(product.databaseUrl, ROLES.monitor);
    const stats = new Client({ connectionString: withDatabase(url, 'postgres') });
    const jobs = new Client({ connectionString: url });
    await Promise.all([stats.connect(), jobs.connect()]);
    await stats.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const { rows } = await jobs.query('SELECT oid::int AS id FROM pg_database WHERE datname = current_database()');
    return new Monitor(stats, jobs, rows[0].id);
  }

  async reset(): Promise<void> {
    await this.stats.query('SELECT pg_stat_statements_reset()');
  }

  async statements(): Promise<Statement[]> {
    const { rows } = await this.stats.query(
      `SELECT r.rolname AS role, s.toplevel, s.query, s.calls::int AS calls, s.mean_exec_time AS mean_ms
         FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
        WHERE s.dbid = $1 AND r.rolname = ANY($2)`,
      [this.databaseId, [ROLES.api, ROLES.worker]],
    );
    return rows.map((row) => ({
      process: row.role === ROLES.api ? 'api' : 'worker',
      toplevel: row.toplevel,
      query: row.query,
      calls: row.calls,
      meanMs: row.mean_ms,
    }));
  }

  /** Transactions ended in the product's database so far, less the bench's own watching. */
  async transactions(): Promise<Transactions> {
    const { rows } = await this.stats.query(
      'SELECT xact_commit::int AS committed, xact_rollback::int AS rolled_back FROM pg_stat_database WHERE datid = $1',
      [this.databaseId],
    );
    return { committed: rows[0].committed - this.watches, rolledBack: rows[0].rolled_back };
  }

  async waitForFirstClaim(): Promise<void> {
    for (;;) {
      this.watches++;
      if ((await this.jobs.query("SELECT 1 FROM jobs WHERE status <> 'queued' LIMIT 1")).rowCount) return;
      await sleep(10);
    }
  }

  async waitForJobs(count: number): Promise<void> {
    for (;;) {
      this.watches++;
      const { rows } = await this.jobs.query(
        `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'failed')::int AS failed FROM jobs`,
      );
      if (rows[0].failed > 0) throw new Error(`${rows[0].failed} jobs failed`);
      if (rows[0].completed === count) return;
      await sleep(200);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.stats.end(), this.jobs.end()]);
  }
}

/** Calls of each Redis command so far, the bench's own INFO calls taken out. */
class RedisCounter {
  private infos = 0;

  constructor(private readonly redis: Redis) {}

  async commands(): Promise<Map<string, number>> {
    const text = await this.redis.info('commandstats');
    const calls = new Map<string, number>();
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1], Number(match[2]));
    // The reply counts every INFO before this one.
    calls.set('info', (calls.get('info') ?? 0) - this.infos);
    this.infos++;
    return calls;
  }
}

/** A redis-server of the bench's own, on a free port, with nothing kept on disk. */
export async function startRedis(): Promise<{ url: string; pid: number; stop(): Promise<void> } | null> {
  if (spawnSync('redis-server', ['--version']).error) return null;
  const port = await freePort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // A refused connection while it starts is expected: connect() rejects with it.
  probe.on('error', () => undefined);
  for (let waited = 0; ; waited += 100) {
    if (
      await probe.connect().then(
        () => true,
        () => false,
      )
    )
      break;
    if (child.exitCode !== null || waited > 10_000) throw new Error(`redis-server did not start on port ${port}`);
    await sleep(100);
  }
  probe.disconnect();
  return { url, pid: child.pid!, stop: () => stopChild(child) };
}

/** Deletes the keys under `prefix` (a run's queues and rate limits) from the Redis at `url`, and only those. */
export async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** The machine's load averages over 1, 5 and 15 minutes, for a bench to print before and after. */
export const loadAverage = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Uploads `photo` as a multipart form, as a mobile client does; answers the image's id. */
export async function uploadPhoto(product: RunningProduct, token: string, photo: Buffer, index: number): Promise<number> {
  const form = new FormData();
  form.append('file', new Blob([photo], { type: 'image/jpeg' }), `photo-${index}.jpg`);
  const uploaded = await fetch(`${product.url}/api/images.json`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
    body: form,
  });
  if (uploaded.status !== 201) throw new Error(`upload: ${uploaded.status} ${await uploaded.text()}`);
  return ((await uploaded.json()) as { id: number }).id;
}

/** Uploads each photo and creates its job JOB_SEQUENCE, CLIENTS at a time. */
export async function ingest(product: RunningProduct, token: string, photos: Buffer[]): Promise<void> {
  await inParallel(photos, CLIENTS, async (photo, index) => {
    const imageId = await uploadPhoto(product, token, photo, index);
    await api(product.url, token, '/api/jobs.json', {
      method: 'POST',
      body: JSON.stringify({ image_id: imageId, job_sequence: JOB_SEQUENCE }),
    });
  });
}

function difference(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) if (calls - (before.get(name) ?? 0) > 0) delta.set(name, calls - (before.get(name) ?? 0));
  return delta;
}

export const callsBy = (statements: Statement[], process: Process) =>
  statements.filter((s) => s.process === process).reduce((sum, s) => sum + s.calls, 0);
export const totalCalls = (statements: Statement[]) => statements.reduce((sum, s) => sum + s.calls, 0);

/**
 * A foreign-key check runs as the owner of the referenced table, whoever wrote the row: it is
 * the phase's own process's (the other one only runs its periodic passes meanwhile). PostgreSQL
 * 18 identifies a statement by its tables' aliases, and every check names its table `x`: the
 * checks on every table share one entry, shown under the text of whichever came first.
 */
const FOREIGN_KEY_CHECK = /^SELECT \$\d+ FROM ONLY "[^"]+"\."[^"]+" x WHERE .* FOR KEY SHARE OF x$/s;
const FOREIGN_KEY_CHECKS = 'foreign-key checks, all tables (SELECT 1 FROM ONLY <referenced table> x WHERE id = $1 FOR KEY SHARE OF x)';
const attributed = (statements: Statement[], main: Process) =>
  statements.map((s) => (FOREIGN_KEY_CHECK.test(s.query) ? { ...s, process: main, query: FOREIGN_KEY_CHECKS } : s));

const since = (after: Transactions, before: Transactions): Transactions => ({
  committed: after.committed - before.committed,
  rolledBack: after.rolledBack - before.rolledBack,
});

const cpuPerJob = (after: Record<string, number>, before: Record<string, number>, jobs: number) =>
  Object.fromEntries(Object.keys(after).map((key) => [key, ((after[key] - before[key]) * 1000) / jobs]));

/**
 * What `photos.length` uploads + jobs cost on one queue backend, in two phases measured apart:
 * (1) the API alone (`--api-only`) takes an upload and a job for each photo; (2) a worker alone
 * drains them, its start-up included. The API and the worker connect as different roles, so
 * that a statement is told by its process (foreign-key checks run as the tables' owner: they go
 * to the phase's process); the bench reads the counters as a third role, left out of every
 * figure. Idle backends flush their transaction counts up to 10 s late: the API's phase is read
 * after a settle, the worker's once it has stopped.
 *
 * The cluster is configured before the product starts it, through ALTER SYSTEM, so that the
 * product runs exactly as `npm start` runs it. `env` goes to both processes; `s3`, the proxy
 * in front of the file store the product is given in `env`, is read at each phase's ends.
 */
export async function measureJobCost(
  backend: 'PostgreSQL' | 'Redis',
  redisUrl: string | null,
  photos: Buffer[],
  env: NodeJS.ProcessEnv,
  s3?: { take(): S3Traffic },
): Promise<PhaseFigures[]> {
  const jobs = photos.length;
  const dataDir = mkdtempSync(join(tmpdir(), 'darkroom-bench-statements-'));
  await prepareCluster(dataDir);
  const product = await startProduct({ ...env, DATA_DIR: dataDir, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) }, ['--api-only']);
  let worker: RunningWorker | undefined;
  const monitor = await Monitor.open(product);
  const redisClient = redisUrl ? new Redis(redisUrl, { enableReadyCheck: false }) : null;
  const redis = redisClient ? new RedisCounter(redisClient) : null;
  try {
    const postgresPid = childPid(product.pid, 'bin/postgres') ?? -1;
    const token = await signUp(product);
    // The start-up's and the sign-up's transactions are flushed before the first count.
    await sleep(SETTLE_SECONDS * 1000);

    // (1) The API alone. Its backends flush their transaction counts once idle, within the settle.
    const ingestCpu = () => {
      const postgres = treeCpuSeconds(postgresPid);
      return { api: treeCpuSeconds(product.pid) - postgres, postgres };
    };
    let transactions = await monitor.transactions();
    let redisBefore = await redis?.commands();
    let cpuBefore: Record<string, number> = ingestCpu();
    await monitor.reset();
    s3?.take();
    await ingest(product, token, photos);
    const ingestStatements = attributed(await monitor.statements(), 'api');
    const ingestPhase: PhaseFigures = {
      name: `${backend}: (1) API alone, ${jobs} uploads + ${jobs} jobs`,
      statements: ingestStatements,
      cpu: cpuPerJob(ingestCpu(), cpuBefore, jobs),
      redis: redis && redisBefore ? difference(await redis.commands(), redisBefore) : null,
      transactions: { committed: 0, rolledBack: 0 },
      s3: s3?.take(),
    };
    await sleep(SETTLE_SECONDS * 1000);
    const settled = await monitor.statements();
    ingestPhase.note = `the API idle afterwards: ${((totalCalls(settled) - totalCalls(ingestStatements)) / SETTLE_SECONDS).toFixed(2)} statements/s (not counted)`;
    ingestPhase.transactions = since(await monitor.transactions(), transactions);

    // (2) A worker alone; its backends flush their counts as it stops.
    transactions = await monitor.transactions();
    redisBefore = await redis?.commands();
    await monitor.reset();
    s3?.take();
    worker = startWorker({ ...product, env: { ...product.env, DATABASE_URL: asRole(product.databaseUrl, ROLES.worker) } });
    const started = worker;
    await monitor.waitForFirstClaim();
    const startup = await monitor.statements();
    // CPU from its first claim, as bench:pipeline counts it: loading modules is not the work.
    const drainCpu = () => ({ worker: treeCpuSeconds(started.pid), postgres: treeCpuSeconds(postgresPid) });
    cpuBefore = drainCpu();
    await monitor.waitForJobs(jobs);
    const drainPhase: PhaseFigures = {
      name: `${backend}: (2) a worker alone drains the ${jobs} jobs`,
      statements: attributed(await monitor.statements(), 'worker'),
      cpu: cpuPerJob(drainCpu(), cpuBefore, jobs),
      redis: redis && redisBefore ? difference(await redis.commands(), redisBefore) : null,
      transactions: { committed: 0, rolledBack: 0 },
      startup,
      s3: s3?.take(),
    };
    await worker.stop();
    await sleep(1000);
    drainPhase.transactions = since(await monitor.transactions(), transactions);
    return [ingestPhase, drainPhase];
  } finally {
    await worker?.stop();
    redisClient?.disconnect();
    await monitor.close();
    await product.stop();
  }
}
