import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { freePort } from '../src/common/free-port';
import { withDatabase } from '../src/database/database-admin';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres';
import {
  api,
  childPid,
  inParallel,
  makePhotos,
  RunningProduct,
  RunningWorker,
  signUp,
  startProduct,
  startWorker,
  treeCpuSeconds,
} from './bench-support';

/**
 * `npm run bench:statements`: the fixed cost of an upload + job in statements, transactions and
 * Redis commands, counted on the embedded PostgreSQL with `pg_stat_statements` (nested statements
 * included: triggers, functions, foreign-key checks; BEGIN and COMMIT too), on both queue backends.
 *
 * For each backend, JOBS different photographs (so that every job is computed, none reused) go
 * through two phases measured apart: (1) the API alone (`--api-only`) takes JOBS uploads and
 * JOBS jobs ["process", "grayscale", "histogram"]; (2) a worker alone drains them, its start-up
 * included. The API and the worker connect as different roles, so that a statement is told by
 * its process (foreign-key checks run as the tables' owner: they go to the phase's process); the
 * bench reads the counters as a third role, left out of every figure. Idle backends flush their
 * transaction counts up to 10 s late: the API's phase is read after a settle, the worker's once
 * it has stopped.
 *
 * The cluster is configured before the product starts it, through ALTER SYSTEM, so that the
 * product runs exactly as `npm start` runs it. The queue on Redis uses a private redis-server
 * on a free port, so that `INFO commandstats` counts this run's commands only.
 */
const JOBS = Number(process.env.BENCH_JOBS ?? 100);
const SIZE = Number(process.env.BENCH_SIZE ?? 512);
/** Which queue backends to measure: `postgresql`, `redis` or both. */
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'postgresql,redis').toLowerCase().split(',');
const CLIENTS = 4;
const SEQUENCE = ['process', 'grayscale', 'histogram'];
/** Longer than PostgreSQL's 10 s idle interval for flushing a backend's pending statistics. */
const SETTLE_SECONDS = 11;
const LEDGER_WIDTH = 110;
const STARTUP_LINES = 10;
const SETTINGS = { AUTH_RATE_LIMIT: '0', JOB_RATE_LIMIT: '0', UPLOAD_RATE_LIMIT: '0', LOG_LEVEL: 'warn' };
const ROLE_PASSWORD = 'bench-statements';
/** Role of each process; the API keeps the cluster's own `postgres`. */
const ROLES = { api: 'postgres', worker: 'bench_worker', monitor: 'bench_monitor' } as const;
type Process = 'api' | 'worker';

interface Statement {
  process: Process;
  toplevel: boolean;
  query: string;
  calls: number;
  meanMs: number;
}

interface Transactions {
  committed: number;
  rolledBack: number;
}

interface PhaseFigures {
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
async function startRedis(): Promise<{ url: string; stop(): Promise<void> } | null> {
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
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Uploads each photo (multipart) and creates its job, CLIENTS at a time. */
async function ingest(product: RunningProduct, token: string, photos: Buffer[]): Promise<void> {
  await inParallel(photos, CLIENTS, async (photo, index) => {
    const form = new FormData();
    form.append('file', new Blob([photo], { type: 'image/jpeg' }), `photo-${index}.jpg`);
    const uploaded = await fetch(`${product.url}/api/images.json`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: form,
    });
    if (uploaded.status !== 201) throw new Error(`upload: ${uploaded.status} ${await uploaded.text()}`);
    const image = (await uploaded.json()) as { id: number };
    await api(product.url, token, '/api/jobs.json', {
      method: 'POST',
      body: JSON.stringify({ image_id: image.id, job_sequence: SEQUENCE }),
    });
  });
}

function difference(after: Map<string, number>, before: Map<string, number>): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, calls] of after) if (calls - (before.get(name) ?? 0) > 0) delta.set(name, calls - (before.get(name) ?? 0));
  return delta;
}

const callsBy = (statements: Statement[], process: Process) =>
  statements.filter((s) => s.process === process).reduce((sum, s) => sum + s.calls, 0);
const totalCalls = (statements: Statement[]) => statements.reduce((sum, s) => sum + s.calls, 0);

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

const cpuPerJob = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).map((key) => [key, ((after[key] - before[key]) * 1000) / JOBS]));

async function runBackend(backend: 'PostgreSQL' | 'Redis', redisUrl: string | null, photos: Buffer[]): Promise<PhaseFigures[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'darkroom-bench-statements-'));
  await prepareCluster(dataDir);
  const product = await startProduct({ ...SETTINGS, DATA_DIR: dataDir, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) }, ['--api-only']);
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
    await ingest(product, token, photos);
    const ingestStatements = attributed(await monitor.statements(), 'api');
    const ingestPhase: PhaseFigures = {
      name: `${backend}: (1) API alone, ${JOBS} uploads + ${JOBS} jobs`,
      statements: ingestStatements,
      cpu: cpuPerJob(ingestCpu(), cpuBefore),
      redis: redis && redisBefore ? difference(await redis.commands(), redisBefore) : null,
      transactions: { committed: 0, rolledBack: 0 },
    };
    await sleep(SETTLE_SECONDS * 1000);
    const settled = await monitor.statements();
    ingestPhase.note = `the API idle afterwards: ${((totalCalls(settled) - totalCalls(ingestStatements)) / SETTLE_SECONDS).toFixed(2)} statements/s (not counted)`;
    ingestPhase.transactions = since(await monitor.transactions(), transactions);

    // (2) A worker alone; its backends flush their counts as it stops.
    transactions = await monitor.transactions();
    redisBefore = await redis?.commands();
    await monitor.reset();
    worker = startWorker({ ...product, env: { ...product.env, DATABASE_URL: asRole(product.databaseUrl, ROLES.worker) } });
    const started = worker;
    await monitor.waitForFirstClaim();
    const startup = await monitor.statements();
    // CPU from its first claim, as bench:pipeline counts it: loading modules is not the work.
    const drainCpu = () => ({ worker: treeCpuSeconds(started.pid), postgres: treeCpuSeconds(postgresPid) });
    cpuBefore = drainCpu();
    await monitor.waitForJobs(JOBS);
    const drainPhase: PhaseFigures = {
      name: `${backend}: (2) a worker alone drains the ${JOBS} jobs`,
      statements: attributed(await monitor.statements(), 'worker'),
      cpu: cpuPerJob(drainCpu(), cpuBefore),
      redis: redis && redisBefore ? difference(await redis.commands(), redisBefore) : null,
      transactions: { committed: 0, rolledBack: 0 },
      startup,
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

const perJob = (calls: number) => (calls / JOBS).toFixed(2);
const oneLine = (query: string) => query.replace(/\s+/g, ' ').trim().slice(0, LEDGER_WIDTH);

/** One line a statement, by calls; `divisor` turns calls into the figure shown (per job, or 1 for raw calls). */
function printLedger(statements: Statement[], divisor: number, limit = Infinity): void {
  // Statements of the same text at the same level are one line (queryid differs with the role).
  const lines = new Map<string, Statement>();
  for (const statement of statements) {
    const key = `${statement.process}\t${statement.toplevel}\t${oneLine(statement.query)}`;
    const line = lines.get(key);
    if (line) {
      line.meanMs = (line.meanMs * line.calls + statement.meanMs * statement.calls) / (line.calls + statement.calls);
      line.calls += statement.calls;
    } else lines.set(key, { ...statement, query: oneLine(statement.query) });
  }
  console.log(`${(divisor === 1 ? 'calls' : 'calls/job').padStart(9)} ${'mean ms'.padStart(8)}  process  level   statement`);
  for (const line of [...lines.values()].sort((a, b) => b.calls - a.calls).slice(0, limit)) {
    console.log(
      `${(line.calls / divisor).toFixed(divisor === 1 ? 0 : 2).padStart(9)} ${line.meanMs.toFixed(3).padStart(8)}  ${line.process.padEnd(7)}  ${(line.toplevel ? 'top' : 'nested').padEnd(6)}  ${line.query}`,
    );
  }
}

function printPhase(phase: PhaseFigures): void {
  console.log(`\n${phase.name}`);
  printLedger(phase.statements, JOBS);
  for (const process of ['api', 'worker'] as const) {
    const mine = phase.statements.filter((s) => s.process === process);
    if (mine.length === 0) continue;
    const top = mine.filter((s) => s.toplevel).reduce((sum, s) => sum + s.calls, 0);
    console.log(
      `${process}: ${perJob(callsBy(mine, process))} statements per upload + job (${perJob(top)} sent by the process, the rest nested)`,
    );
  }
  if (phase.startup) {
    console.log(
      `of which the worker's start-up, up to its first claim: ${totalCalls(phase.startup)} statements in all; the most frequent:`,
    );
    printLedger(phase.startup, 1, STARTUP_LINES);
  }
  if (phase.note) console.log(phase.note);
  console.log(
    `transactions per upload + job: ${perJob(phase.transactions.committed + phase.transactions.rolledBack)} ` +
      `(${perJob(phase.transactions.rolledBack)} rolled back; the database's, the bench's own taken out, ` +
      'each LISTENing connection woken by a NOTIFY counted too)',
  );
  if (phase.redis) {
    const total = [...phase.redis.values()].reduce((sum, calls) => sum + calls, 0);
    const commands = [...phase.redis.entries()].sort((a, b) => b[1] - a[1]).map(([name, calls]) => `${name} ${perJob(calls)}`);
    console.log(`Redis commands per job: ${perJob(total)} (${commands.join(', ')})`);
  }
  console.log(
    `CPU per upload + job: ${Object.entries(phase.cpu)
      .map(([name, ms]) => `${name} ${ms.toFixed(1)} ms`)
      .join(', ')}`,
  );
}

function printTotals(backend: string, phases: PhaseFigures[]): void {
  const all = phases.flatMap((phase) => phase.statements);
  const top = all.filter((s) => s.toplevel).reduce((sum, s) => sum + s.calls, 0);
  const total = all.reduce((sum, s) => sum + s.calls, 0);
  const transactions = phases.reduce((sum, phase) => sum + phase.transactions.committed + phase.transactions.rolledBack, 0);
  console.log(`\n${backend}: statements per upload + job, all processes: ${perJob(total)} (target ≤ 15 on Redis / ≤ 40 on PostgreSQL)`);
  console.log(
    `${backend}:   of which sent by a process (round trips): ${perJob(top)}; transactions per upload + job: ${perJob(transactions)}`,
  );
  if (phases.every((phase) => phase.redis)) {
    const redis = phases.reduce((sum, phase) => sum + [...phase.redis!.values()].reduce((a, b) => a + b, 0), 0);
    console.log(`${backend}:   Redis commands per job, all processes: ${perJob(redis)}`);
  }
  const postgres = phases.reduce((sum, phase) => sum + phase.cpu.postgres, 0);
  console.log(`${backend}:   PostgreSQL CPU per upload + job: ${postgres.toFixed(1)} ms`);
}

async function main(): Promise<void> {
  // Both backends are chosen here: the shell's own database and queue would bypass the embedded server and the private Redis.
  delete process.env.DATABASE_URL;
  delete process.env.REDIS_URL;
  const photos = await makePhotos(JOBS, SIZE, SIZE);
  console.log(`${JOBS} different ${SIZE}×${SIZE} JPEG photographs, each uploaded then processed by ${JSON.stringify(SEQUENCE)}`);
  const results: [string, PhaseFigures[]][] = [];
  if (BACKENDS.includes('postgresql')) results.push(['PostgreSQL', await runBackend('PostgreSQL', null, photos)]);
  const redis = BACKENDS.includes('redis') ? await startRedis() : null;
  if (redis) {
    try {
      results.push(['Redis', await runBackend('Redis', redis.url, photos)]);
    } finally {
      await redis.stop();
    }
  } else if (BACKENDS.includes('redis')) {
    console.log('\nNo redis-server on this machine: the queue on Redis is not measured (install redis-server to measure it).');
  }
  for (const [backend, phases] of results) {
    console.log(`\n===== queue on ${backend} =====`);
    for (const phase of phases) printPhase(phase);
    printTotals(backend, phases);
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
