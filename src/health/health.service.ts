import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckResult, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { QueueProbe } from './queue-probe';
import { DRAINING_MESSAGE, ShutdownDrain } from './shutdown-drain';
import { INSTALLATION_MARKER_KEY } from '../storage/storage-identity';
import { StorageDriver } from '../storage/storage.driver';

/**
 * Each dependency gets this long to answer, and they are checked side by side: readiness answers
 * within about this time even when one of them hangs (a dropped network rather than a refusal).
 */
export const CHECK_TIMEOUT_MS = 2000;

@Injectable()
export class HealthService {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly queue: QueueProbe,
    private readonly storage: StorageDriver,
    private readonly config: AppConfig,
    private readonly drain: ShutdownDrain,
  ) {}

  /**
   * PostgreSQL, the queue's store and the file store, each `up` or `down` (with why); ready only when all are up.
   * From a SIGTERM on, only `node`, down, saying that the node is shutting down.
   */
  async ready(): Promise<{ ready: boolean; result: HealthCheckResult }> {
    // Checking the dependencies would only delay the answer the load balancer is waiting for.
    if (this.drain.draining) {
      const node = { status: 'down' as const, message: DRAINING_MESSAGE, responseTime: 0 };
      return { ready: false, result: { status: 'error', info: {}, error: { node }, details: { node } } };
    }
    try {
      return { ready: true, result: await this.check() };
    } catch (error) {
      // Terminus reports a dependency down as this exception, carrying the whole result.
      if (error instanceof ServiceUnavailableException) return { ready: false, result: error.getResponse() as HealthCheckResult };
      throw error;
    }
  }

  private check(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database').withTimeout(CHECK_TIMEOUT_MS),
      () =>
        this.indicators
          .check('queue')
          .attempt(async () => {
            await this.queue.check();
            return { backend: this.queue.backend };
          })
          .withTimeout(CHECK_TIMEOUT_MS),
      () =>
        this.indicators
          .check('storage')
          .attempt(async ({ signal }) => {
            await this.storage.checkReachable(signal);
            // Checked at start too (storage-identity.ts); a store swapped or wiped under a
            // running node must take it out of the load balancer, not fail every job.
            if (!(await this.storage.stat(INSTALLATION_MARKER_KEY))) {
              throw new Error(
                `the installation's marker (${INSTALLATION_MARKER_KEY}) is gone: this node no longer sees the installation's files`,
              );
            }
            return { driver: this.config.STORAGE };
          })
          .withTimeout(CHECK_TIMEOUT_MS),
    ]);
  }
}
