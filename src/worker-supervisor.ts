import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';

const logger = new Logger('WorkerSupervisor');
const RESTART_DELAY_MS = 1000;
/** Past the worker's own SHUTDOWN_GRACE, the time it needs to hand its jobs back and close. */
const CLOSE_MARGIN_MS = 15_000;

/**
 * `npm start` runs the worker as a child process, so that a crash in native image code takes down
 * only the worker, which is then restarted; the API keeps serving.
 */
export class WorkerSupervisor {
  private child: ChildProcess | null = null;
  private stopping = false;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly shutdownGraceSeconds: number,
  ) {}

  start(): void {
    const child = fork(join(__dirname, 'worker.main.js'), [], { env: this.env });
    this.child = child;
    child.once('exit', (code, signal) => {
      this.child = null;
      if (this.stopping) return;
      logger.error(`The worker exited (${signal ?? `code ${code}`}); restarting it`);
      setTimeout(() => this.stopping || this.start(), RESTART_DELAY_MS);
    });
  }

  /** Lets the worker finish its current jobs, up to a grace period. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), this.shutdownGraceSeconds * 1000 + CLOSE_MARGIN_MS);
    await exited;
    clearTimeout(timer);
  }
}
