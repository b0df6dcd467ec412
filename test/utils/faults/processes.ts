import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..', '..');
/**
 * The build the processes run: dist/, which `npm test` rebuilds first. FAULTS_DIST may name a copy
 * (with node_modules reachable from it) so that a rebuild in a shared working tree cannot pull
 * the files from under a running suite.
 */
export const DIST = process.env.FAULTS_DIST || join(REPO_ROOT, 'dist');
export const API_MAIN = join(DIST, 'src', 'main.js');
export const WORKER_MAIN = join(DIST, 'src', 'worker.main.js');
/** Preload that makes a built API process kill itself right after a job creation commits (see the file). */
export const CRASH_AFTER_JOB_INSERT = join(__dirname, 'crash-after-job-insert.js');

export type Env = Record<string, string | undefined>;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One product process (API or worker) as production runs it: its own OS process, its stdout and
 * stderr appended to a log file (written by the child itself, so the log survives whatever
 * happens to the test process).
 */
export class ManagedProcess {
  readonly exited: Promise<Exit>;
  exit: Exit | null = null;
  readonly startedAt = Date.now();
  /** Set when the test stops the process (or expects it to stop itself): any other exit is a crash. */
  exitExpected = false;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        resolve(this.exit);
      });
      child.once('error', (error) => {
        appendLog(logFile, `[harness] spawn error: ${error.message}`);
        this.exit ??= { code: -1, signal: null };
        live.delete(this);
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Sends `signal` (when still running) and waits up to `timeoutMs` for the exit; null on timeout. */
  async signal(signal: NodeJS.Signals, timeoutMs = 15_000): Promise<Exit | null> {
    this.exitExpected = true;
    if (this.running) {
      appendLog(this.logFile, `[harness] ${new Date().toISOString()} sending ${signal} to pid ${this.pid}`);
      this.child.kill(signal);
    }
    return within(this.exited, timeoutMs);
  }

  /** SIGKILL, and wait for the exit. */
  async kill(): Promise<Exit> {
    this.exitExpected = true;
    if (this.running) {
      appendLog(this.logFile, `[harness] ${new Date().toISOString()} sending SIGKILL to pid ${this.pid}`);
      this.child.kill('SIGKILL');
    }
    return this.exited;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  /** The last `lines` lines of the log, without colours or Nest's start-up chatter (modules, routes). */
  tail(lines = 40): string {
    return (
      this.log()
        // eslint-disable-next-line no-control-regex -- the escape character starts the ANSI colour codes being removed
        .replace(/\x1b\[[0-9;]*m/g, '')
        .split('\n')
        .filter((line) => !/\[(InstanceLoader|RoutesResolver|RouterExplorer)\]/.test(line))
        .slice(-lines)
        .join('\n')
    );
  }
}

/** Every product process this test process started and that has not exited yet. */
const live = new Set<ManagedProcess>();

// Should jest exit with children still up (a failed afterAll, a timeout), they do not outlive it.
process.once('exit', () => {
  for (const managed of live) managed.child.kill('SIGKILL');
});

export function liveProcesses(): ManagedProcess[] {
  return [...live];
}

/** `node <script> <args>` with exactly `env` (nothing inherited), its output appended to `logFile`. */
export function startNode(name: string, script: string, args: string[], env: Env, logFile: string): ManagedProcess {
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npx nest build\` first (npm test does)`);
  const fd = openSync(logFile, 'a');
  try {
    writeSync(fd, `[harness] ${new Date().toISOString()} starting ${name}: node ${[script, ...args].join(' ')}\n`);
    const child = spawn(process.execPath, [script, ...args], {
      cwd: REPO_ROOT,
      env: Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)) as NodeJS.ProcessEnv,
      stdio: ['ignore', fd, fd],
    });
    const managed = new ManagedProcess(name, child, logFile);
    live.add(managed);
    return managed;
  } finally {
    closeSync(fd);
  }
}

export function appendLog(file: string, line: string): void {
  try {
    const fd = openSync(file, 'a');
    writeSync(fd, `${line}\n`);
    closeSync(fd);
  } catch {
    // The log is a diagnostic; a missing directory must not fail the scenario.
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The promise's value, or null when it has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Thrown by a poll's check to stop polling at once (a process it waits on has exited). */
export class PollAbort extends Error {}

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined/false, or throws
 * throws after `timeoutMs`. Errors thrown by `check` (a database restarting) count as "not yet",
 * except a PollAbort, which ends the wait.
 */
export async function pollUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      if (error instanceof PollAbort) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}
