import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/common/free-port';

export interface RunningProduct {
  url: string;
  adminToken: string;
  /** The embedded PostgreSQL's database, for seeding. */
  databaseUrl: string;
  /** The API process, whose child is the worker. */
  pid: number;
  stop(): Promise<void>;
}


/**
 * Starts the product as `npm start` does (API plus a worker child, embedded PostgreSQL unless
 * DATABASE_URL is set) in a scratch DATA_DIR, and waits until it answers. `args` go to main.js
 * (`--api-only`: no worker).
 */
export async function startProduct(env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<RunningProduct> {
  const port = await freePort();
  const databasePort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'darkroom-bench-'));
  const adminToken = 'bench-admin-token-0123456789';
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, '..', 'src', 'main.js'), ...args], {
    env: {
      ...process.env,
      PORT: String(port),
      EMBEDDED_PG_PORT: String(databasePort),
      DATA_DIR: dataDir,
      ADMIN_TOKEN: adminToken,
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let waited = 0; ; waited += 250) {
    if (child.exitCode !== null) throw new Error(`The product exited with code ${child.exitCode}`);
    if (await fetch(`${url}/api/docs-json`).then((r) => r.ok, () => false)) break;
    if (waited > 60_000) throw new Error('The product did not start within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const password = readFileSync(join(dataDir, 'postgres', 'password'), 'utf8').trim();
  return {
    url,
    adminToken,
    databaseUrl: env.DATABASE_URL ?? `postgres://postgres:${password}@127.0.0.1:${databasePort}/darkroom`,
    pid: child.pid!,
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
