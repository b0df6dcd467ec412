import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';

const logger = new Logger('WorkerSupervisor');
/**
 * A worker that dies within STARTUP_MS of its start is restarted after RESTART_DELAY_MS, so that
 * one failing at start does not spin; one that had been running is restarted at once, since its
 * queued jobs (an aggregate posted just then, say) wait for it.
 */
const RESTART_DELAY_MS = 1000;
const STARTUP_MS = 10_000;
/** Past the worker's own SHUTDOWN_GRACE, the time it needs to hand its jobs back and close. */
const CLOSE_MARGIN_MS = 15_000;
/** How long serve() waits for the worker to say it serves its queues before it stops waiting. */
const READY_TIMEOUT_MS = 60_000;

/** The message a supervised worker sends once it serves its queues (see worker.main.ts). */
export const WORKER_READY = 'darkroom:worker-ready';
/** The argument that tells worker.main.ts it runs under this supervisor. */
export const SUPERVISED = '--supervised';

/** The message that gives a supervised worker its database, opened and migrated by the API process. */
export interface WorkerDatabaseMessage {
  type: 'darkroom:database';
  url: string;
}

export function isWorkerDatabaseMessage(message: unknown): message is WorkerDatabaseMessage {
  const candidate = message as Partial<WorkerDatabaseMessage> | null;
  return typeof candidate === 'object' && candidate?.type === 'darkroom:database' && typeof candidate.url === 'string';
}

/**
 * `npm start` runs the worker as a child process, so that a crash in native image code takes down
 * only the worker, which is then restarted; the API keeps serving.
 *
 * The worker is started first (`fork`), so that it loads its code while the API process opens and
 * migrates the database and loads its own; it then waits for `serve` to give it the database.
 *
 * The child runs in a process group of its own (`detached`): a Ctrl-C in the terminal reaches
 * only the API process, which stops the worker once, with SIGTERM, and waits for it to finish or
 * hand back its jobs. Should the API process die without stopping it, the worker sees its IPC
 * channel close and stops itself the same way.
 */
export class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private databaseUrl: string | null = null;
  private ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly shutdownGraceSeconds: number,
  ) {}

  /** Starts the worker process, which loads its code and then waits for `serve`. */
  fork(): void {
    const child = fork(join(__dirname, 'worker.main.js'), [SUPERVISED], { env: this.env, detached: true });
    const forkedAt = Date.now();
    this.child = child;
    child.on('error', (error) => logger.error(`The worker process: ${error.message}`));
    child.once('exit', (code, signal) => {
      this.child = null;
      if (this.stopping) return;
      logger.error(`The worker exited (${signal ?? `code ${code}`}); restarting it`);
      setTimeout(
        () => {
          if (this.stopping) return;
          this.fork();
          if (this.databaseUrl !== null) void this.serve(this.databaseUrl);
        },
        Date.now() - forkedAt < STARTUP_MS ? RESTART_DELAY_MS : 0,
      );
    });
    this.ready = new Promise<void>((resolve) => {
      const done = () => {
        child.off('message', onMessage);
        resolve();
      };
      const onMessage = (message: unknown) => message === WORKER_READY && done();
      child.on('message', onMessage);
      child.once('exit', done);
    });
  }

  /** Gives the worker its database; resolves once it serves its queues, exits, or a minute has passed. */
  serve(databaseUrl: string): Promise<void> {
    this.databaseUrl = databaseUrl;
    const message: WorkerDatabaseMessage = { type: 'darkroom:database', url: databaseUrl };
    if (this.child?.connected) this.child.send(message);
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, READY_TIMEOUT_MS)));
    return Promise.race([this.ready, waited]).finally(() => clearTimeout(timer));
  }

  /** Lets the worker finish its current jobs, up to a grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(
      () => {
        logger.error(
          `The worker did not stop within ${this.shutdownGraceSeconds} s (SHUTDOWN_GRACE) and ${CLOSE_MARGIN_MS / 1000} s more; killing it`,
        );
        child.kill('SIGKILL');
      },
      this.shutdownGraceSeconds * 1000 + CLOSE_MARGIN_MS,
    );
    await exited;
    clearTimeout(timer);
  }
}
