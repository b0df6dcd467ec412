import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort } from '../../../src/common/free-port';
import { pollUntil } from './processes';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find(existsSync);

/**
 * A Redis server of the scenario's own, without persistence, so that it can be restarted (and its
 * data lost, as a restart without persistence loses it) without disturbing anyone else's use of
 * the machine's Redis. Null where no redis-server is installed.
 */
export interface PrivateRedis {
  url: string;
  restart(): Promise<void>;
  /** Stops the server, keeping its port, until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis | null> {
  if (!REDIS_SERVER) return null;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'darkroom-faults-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let server = await start(port, dir);
  return {
    url,
    async restart() {
      await stop(server);
      server = await start(port, dir);
    },
    stop: () => stop(server),
    async start() {
      server = await start(port, dir);
    },
    async close() {
      await stop(server);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function start(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(REDIS_SERVER!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  await pollUntil(
    `the private Redis on port ${port} to answer`,
    async () => {
      const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        client.disconnect();
      }
    },
    15_000,
    100,
  );
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}
