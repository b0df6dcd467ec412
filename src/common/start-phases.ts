import { Logger } from '@nestjs/common';

/**
 * Times the steps of a process's start and writes each one's duration at debug level, so that
 * `LOG_LEVEL=debug` shows where a slow start goes. Steps may overlap: each is timed on its own.
 */
export class StartPhases {
  private readonly logger: Logger;

  constructor(context: string) {
    this.logger = new Logger(context);
  }

  /** The time from the process's start to now: Node's own start and the loading of the code. */
  loaded(): void {
    this.write('loading the code', performance.now());
  }

  /** The whole start, from the process's start to now. */
  total(): void {
    this.write('in all', performance.now());
  }

  async time<T>(phase: string, step: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await step();
    this.write(phase, performance.now() - started);
    return result;
  }

  private write(phase: string, ms: number): void {
    this.logger.debug({ msg: `Start phase: ${phase} took ${Math.round(ms)} ms`, event: 'start_phase', phase, duration_ms: Math.round(ms) });
  }
}
