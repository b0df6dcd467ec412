import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { freePort } from '../../../src/common/free-port';
import { ApiClient } from './http';
import { DatabaseServer, openPool, ScenarioDatabase } from './postgres';
import { API_MAIN, appendLog, Env, ManagedProcess, PollAbort, pollUntil, sleep, startNode, WORKER_MAIN } from './processes';
import { deleteInstallationKeys, readInstallationId } from './queue-store';

export interface Backend {
  /** `redis` (BullMQ on Redis) or `postgres` (BullMQ's PostgreSQL backend). */
  name: 'redis' | 'postgres';
  redisUrl?: string;
}

/** BullMQ's PostgreSQL backend always; Redis only when the run has a REDIS_URL. */
export function availableBackends(): Backend[] {
  const backends: Backend[] = [];
  if (process.env.REDIS_URL) backends.push({ name: 'redis', redisUrl: process.env.REDIS_URL });
  backends.push({ name: 'postgres' });
  return backends;
}

/** Variables the children inherit from the test process; everything else they are given explicitly. */
const INHERITED = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'LC_ALL', 'TZ', 'USER'];

/** An admin bearer token for the deployments (the same value as test/utils/test-app.ts's). */
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

let sequence = 0;

/**
 * One deployment of the product for a scenario: its own migrated database, its own DATA_DIR
 * (file storage, shared by the API and its workers, and the children's logs), an API process and
 * any number of worker processes, all real OS processes started from dist/.
 */
export class Cluster {
  readonly processes: ManagedProcess[] = [];
  /** Ids of the jobs the API accepted with a 201 (the invariant check looks for each one's row). */
  readonly acceptedIds: number[] = [];
  api: ManagedProcess | null = null;
  apiPort = 0;
  client: ApiClient = new ApiClient('http://127.0.0.1:1');
  private names = new Map<string, number>();

  private constructor(
    readonly label: string,
    readonly backend: Backend,
    readonly database: ScenarioDatabase,
    readonly pool: Pool,
    readonly dataDir: string,
    readonly settings: Env,
  ) {}

  static async create(label: string, backend: Backend, server: DatabaseServer, databaseName: string, settings: Env = {}): Promise<Cluster> {
    const database = await server.createDatabase(databaseName);
    const dataDir = mkdtempSync(join(tmpdir(), `darkroom-faults-${label}-`));
    return new Cluster(label, backend, database, openPool(database.url), dataDir, settings);
  }

  /** The environment of this deployment's processes, as an operator would set it. */
  env(extra: Env = {}): Env {
    const inherited = Object.fromEntries(
      INHERITED.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]]),
    );
    return {
      ...inherited,
      DATABASE_URL: this.database.url,
      REDIS_URL: this.backend.redisUrl,
      DATA_DIR: this.dataDir,
      ADMIN_TOKEN,
      WORKER_CONCURRENCY: '2',
      // Its processes share one server of max_connections 100 with the suite running beside it.
      DATABASE_POOL_SIZE: '5',
      RECONCILE_INTERVAL: '1',
      // Several workers per machine: none serves its metrics port unless a scenario asks.
      WORKER_METRICS_PORT: '0',
      // The scenarios sign up and create jobs far faster than the default rate limits allow.
      AUTH_RATE_LIMIT: '0',
      JOB_RATE_LIMIT: '0',
      UPLOAD_RATE_LIMIT: '0',
      ...this.settings,
      ...extra,
    };
  }

  private logName(kind: string): string {
    const count = (this.names.get(kind) ?? 0) + 1;
    this.names.set(kind, count);
    return `${kind}-${count}`;
  }

  /**
   * Starts `node <script> <args>` as one of the deployment's processes, named `<kind>-<n>` (its
   * log `<kind>-<n>.log` in the data directory); it is not waited for.
   */
  startProcess(kind: string, script: string, args: string[], extra: Env = {}): ManagedProcess {
    const name = this.logName(kind);
    const child = startNode(name, script, args, this.env(extra), join(this.dataDir, `${name}.log`));
    this.processes.push(child);
    return child;
  }

  /**
   * Starts `node dist/src/main.js --api-only` on a free port and waits until it answers HTTP
   * (unless `wait` is false). The client of the cluster then talks to it.
   */
  async startApi(extra: Env = {}, { wait = true } = {}): Promise<ManagedProcess> {
    if (this.api?.running) throw new Error(`${this.label}: an API process is already running`);
    this.apiPort = await freePort();
    const api = this.startProcess('api', API_MAIN, ['--api-only'], { PORT: String(this.apiPort), ...extra });
    this.api = api;
    this.client = new ApiClient(`http://127.0.0.1:${this.apiPort}`, this.client.token);
    if (wait) await this.waitForApi(api);
    return api;
  }

  async waitForApi(api: ManagedProcess, timeoutMs = 90_000): Promise<void> {
    await pollUntil(
      `${api.name} to answer HTTP on port ${this.apiPort}`,
      async () => {
        if (!api.running) throw new PollAbort(`${api.name} exited (${JSON.stringify(api.exit)}) before answering HTTP:\n${api.tail()}`);
        return (await this.client.request('GET', '/api/jobs.json', undefined, 2_000)).status > 0;
      },
      timeoutMs,
      200,
    );
  }

  /** Starts a worker process (`node dist/src/worker.main.js`); it is not waited for. */
  startWorker(extra: Env = {}): ManagedProcess {
    return this.startProcess('worker', WORKER_MAIN, [], extra);
  }

  /**
   * Waits until a worker logs that it serves its queues (best effort: a worker that starts
   * quietly is given `timeoutMs` and then assumed ready). Throws if it exits first.
   */
  async waitForWorker(worker: ManagedProcess, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!worker.running) throw new Error(`${worker.name} exited (${JSON.stringify(worker.exit)}) while starting:\n${worker.tail()}`);
      if (/Serving queues/.test(worker.log())) return;
      await sleep(100);
    }
    appendLog(worker.logFile, `[harness] no "Serving queues" line after ${timeoutMs} ms; going on`);
  }

  workers(): ManagedProcess[] {
    return this.processes.filter((child) => child.name.startsWith('worker') && child.running);
  }

  /** Signs a new user up and makes the cluster's client theirs. */
  async signUp(): Promise<void> {
    this.client = await new ApiClient(this.client.baseUrl).signUp(`f${process.pid}x${Date.now().toString(36)}x${++sequence}`);
  }

  async upload(file: Buffer): Promise<number> {
    return (await this.client.uploadImage(file)).id;
  }

  /** Creates `count` jobs over HTTP, `parallel` requests at a time; each must be accepted (201). */
  async submit(count: number, body: (index: number) => Record<string, unknown>, parallel = 4): Promise<number[]> {
    const ids: number[] = new Array(count);
    let next = 0;
    const lane = async () => {
      for (let index = next++; index < count; index = next++) {
        const answer = await this.client.createJob(body(index));
        if (answer.status !== 201) {
          throw new Error(
            `${this.label}: POST /api/jobs.json answered ${answer.status || answer.error}: ${JSON.stringify(answer.body)?.slice(0, 400)}`,
          );
        }
        ids[index] = answer.body.id;
        this.acceptedIds.push(answer.body.id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
    return ids;
  }

  installationId(): Promise<string> {
    return readInstallationId(this.pool);
  }

  /** SIGKILLs every process of the deployment still running. */
  async killAll(): Promise<void> {
    await Promise.all(this.processes.map((child) => child.kill()));
  }

  /** Processes that exited without the test stopping them (or expecting them to stop): crashes. */
  crashes(): string[] {
    return this.processes
      .filter((child) => child.exit && !child.exitExpected)
      .map((child) => `${child.name} (pid ${child.pid}) exited on its own: ${JSON.stringify(child.exit)}`);
  }

  logTails(lines = 40): string {
    return this.processes
      .map(
        (child) =>
          `----- ${this.label}/${child.name} (pid ${child.pid}, ${child.exit ? `exited ${JSON.stringify(child.exit)}` : 'running'}) ${child.logFile}\n${child.tail(lines)}`,
      )
      .join('\n');
  }

  /**
   * Kills the processes, deletes the installation's Redis keys, closes the pool and drops the
   * database; the data directory (with the logs) goes too unless `keepFiles`.
   */
  async close({ keepFiles = false } = {}): Promise<void> {
    await this.killAll();
    if (this.backend.redisUrl) {
      // The shared Redis keeps nothing of this database's (finished entries would stay for RESULT_TTL).
      await this.installationId()
        .then((id) => deleteInstallationKeys(this.backend.redisUrl!, id))
        .catch(() => undefined);
    }
    await this.pool.end().catch(() => undefined);
    await this.database.drop().catch((error) => console.warn(`${this.label}: could not drop its database: ${(error as Error).message}`));
    if (!keepFiles) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
