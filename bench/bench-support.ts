import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { freePort } from '../src/common/free-port';

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
  const productEnv = {
    ...process.env,
    PORT: String(port),
    EMBEDDED_PG_PORT: String(databasePort),
    DATA_DIR: dataDir,
    ADMIN_TOKEN: adminToken,
    ...env,
  };
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, join(__dirname, '..', 'src', 'main.js'), ...args], {
    env: productEnv,
    stdio: ['ignore', 'ignore', 'inherit'],
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
  const password = readFileSync(join(dataDir, 'postgres', 'password'), 'utf8').trim();
  const databaseUrl = env.DATABASE_URL ?? `postgres://postgres:${password}@127.0.0.1:${databasePort}/darkroom`;
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
  return {
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
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
