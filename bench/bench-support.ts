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
  /** The API process, whose child is the worker. */
  pid: number;
  stop(): Promise<void>;
}


/**
 * Starts the product as `npm start` does (API plus a worker child, embedded PostgreSQL unless
 * DATABASE_URL is set) in a scratch DATA_DIR, and waits until it answers.
 */
export async function startProduct(env: NodeJS.ProcessEnv = {}): Promise<RunningProduct> {
  const port = await freePort();
  const databasePort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'darkroom-bench-'));
  const adminToken = 'bench-admin-token-0123456789';
  const child: ChildProcess = spawn(process.execPath, [join(__dirname, '..', 'src', 'main.js')], {
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

/** `count` different 1920×1080 JPEG photographs, cut from a real photo (the test fixture) at varying offsets and brightness. */
export async function makePhotos(count: number): Promise<Buffer[]> {
  const source = await sharp(join(__dirname, '..', '..', 'test', 'fixtures', 'astronaut.png')).resize(2400, 2400).toBuffer();
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      sharp(source)
        .extract({ left: (i * 7) % 480, top: (i * 13) % 1320, width: 1920, height: 1080 })
        .modulate({ brightness: 0.8 + (i % 10) / 25 })
        .jpeg({ quality: 90 })
        .toBuffer(),
    ),
  );
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
