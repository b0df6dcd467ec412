import { ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Pool } from 'pg';
import { freePort } from '../../../src/common/free-port';
import { dropDatabase, ensureDatabase, withDatabase } from '../../../src/database/database-admin';
import { runMigrations } from '../../../src/database/migrate';
import { TEST_DATABASE_URL_VARIABLE } from '../../setup/test-env';
import { createSuiteDatabase } from '../suite-database';
import { DIST, pollUntil } from './processes';

const run = promisify(execFile);

export interface ScenarioDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A PostgreSQL server scenarios make their databases on. */
export interface DatabaseServer {
  readonly description: string;
  createDatabase(name: string): Promise<ScenarioDatabase>;
  /** Stops the server and starts it again on the same data and port; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Stops a server this suite started (a no-op for the run's server). */
  close(): Promise<void>;
}

export function runDatabaseUrl(): string {
  const url = process.env[TEST_DATABASE_URL_VARIABLE];
  if (!url) throw new Error(`${TEST_DATABASE_URL_VARIABLE} is unset: run the e2e tests through jest`);
  return url;
}

/** A pool for the test's own queries, which survives the server going away (errors are the caller's). */
export function openPool(url: string): Pool {
  const pool = new Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 2_000 });
  // An idle client's connection dropped by a server restart must not crash the test process.
  pool.on('error', () => undefined);
  return pool;
}

export async function waitForPostgres(serverUrl: string, timeoutMs = 60_000): Promise<void> {
  await pollUntil(
    `PostgreSQL at ${new URL(serverUrl).host} to accept connections`,
    async () => {
      const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 2_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    timeoutMs,
    250,
  );
}

/** The server the run's database is on: scenarios get a fresh migrated database there each. */
export function runServer(): DatabaseServer {
  return {
    description: `the run's server (${new URL(runDatabaseUrl()).host})`,
    createDatabase: (name) => createSuiteDatabase(name),
    restart: () => {
      throw new Error("The run's server can only be restarted when it is the machine's PostgreSQL on 127.0.0.1:5432");
    },
    close: async () => undefined,
  };
}

/**
 * The machine's PostgreSQL cluster (Debian's pg_ctlcluster), when the run's database is on it and
 * the run may restart it: with FAULTS_RESTART_POSTGRES=1 only, since the suites running beside this
 * one (and anyone else's) would lose their connections. A developer's own server is never
 * restarted unasked.
 */
function systemCluster(): { version: string } | null {
  if (process.env.FAULTS_RESTART_POSTGRES !== '1') return null;
  const url = new URL(runDatabaseUrl());
  if (!['127.0.0.1', 'localhost'].includes(url.hostname) || (url.port || '5432') !== '5432') return null;
  if (!['/usr/bin/pg_ctlcluster', '/usr/sbin/pg_ctlcluster'].some(existsSync) || !existsSync('/etc/postgresql')) return null;
  const versions = readdirSync('/etc/postgresql').filter((version) => existsSync(join('/etc/postgresql', version, 'main')));
  return versions.length ? { version: versions.sort()[0] } : null;
}

/**
 * A server the PostgreSQL-restart scenario may restart: the machine's cluster when the run uses
 * it and may restart it (FAULTS_RESTART_POSTGRES=1, with --runInBand so that no other suite is
 * using it meanwhile), else a private embedded PostgreSQL started for the scenario.
 */
export async function restartableServer(): Promise<DatabaseServer> {
  const cluster = systemCluster();
  if (cluster) {
    const serverUrl = withDatabase(runDatabaseUrl(), 'postgres');
    return {
      description: `the machine's PostgreSQL ${cluster.version}/main (pg_ctlcluster)`,
      createDatabase: (name) => createSuiteDatabase(name),
      async restart() {
        await run('pg_ctlcluster', ['--skip-systemctl-redirect', cluster.version, 'main', 'restart'], { timeout: 120_000 });
        await waitForPostgres(serverUrl);
      },
      close: async () => undefined,
    };
  }
  return startPrivateEmbeddedServer();
}

/** An embedded PostgreSQL server run by embedded-postgres-server.js: its process, and its URL once up. */
interface EmbeddedProcess {
  child: ChildProcess;
  url: string;
}

async function startEmbeddedProcess(dir: string, port: number, logFile: string): Promise<EmbeddedProcess> {
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(process.execPath, [join(__dirname, 'embedded-postgres-server.js'), DIST, dir, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stderr!.pipe(log);
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`The embedded PostgreSQL did not start within 120 s (log: ${logFile})`)), 120_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line).url);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`The embedded PostgreSQL's process exited (${code ?? signal}) while starting (log: ${logFile})`));
    });
  });
  child.stdout!.resume();
  return { child, url };
}

async function stopEmbeddedProcess({ child }: EmbeddedProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** A private server, which a test may also keep stopped for a while (`stop`, then `start`). */
export interface PrivateDatabaseServer extends DatabaseServer {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * A private embedded PostgreSQL (the product's startEmbeddedPostgres, in a process of its own) on a
 * free port, with its cluster in a scratch directory; restarted by stopping that process (a fast
 * shutdown of the server) and starting it again on the same directory and port.
 */
export async function startPrivateEmbeddedServer(): Promise<PrivateDatabaseServer> {
  const scratch = await mkdtemp(join(tmpdir(), 'darkroom-faults-pg-'));
  // As root, PostgreSQL runs as the `postgres` user, which must be able to enter the directory.
  await chmod(scratch, 0o755);
  const dir = join(scratch, 'postgres');
  const port = await freePort();
  const logFile = join(scratch, 'embedded-postgres.log');
  let server: EmbeddedProcess | undefined = await startEmbeddedProcess(dir, port, logFile);
  const admin = server.url;
  await waitForPostgres(admin);
  const stop = async () => {
    const stopping = server;
    server = undefined;
    if (stopping) await stopEmbeddedProcess(stopping);
  };
  const start = async () => {
    server ??= await startEmbeddedProcess(dir, port, logFile);
    await waitForPostgres(admin);
  };
  return {
    description: `a private embedded PostgreSQL on 127.0.0.1:${port}`,
    async createDatabase(name) {
      const database = `faults_${name}`;
      await ensureDatabase(admin, database);
      const url = withDatabase(admin, database);
      await runMigrations(url, { queueOnPostgres: true });
      return { url, drop: () => dropDatabase(admin, database) };
    },
    async restart() {
      await stop();
      await start();
    },
    stop,
    start,
    async close() {
      if (server) await stopEmbeddedProcess(server).catch(() => undefined);
      server = undefined;
      await rm(scratch, { recursive: true, force: true });
    },
  };
}
