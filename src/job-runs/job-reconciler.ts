import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { EntryState, JobQueue } from './job-queue';
import { JobDispatcher } from './job-dispatcher';
import { foldUsageDeltas } from '../users/user.repository';
import { Job, JOB_STATUS } from './job.entity';
import { JobRepository } from './job.repository';
import { AdvisoryLock, whileHolding } from '../database/advisory-locks';
import { IdempotencyKeyRepository } from '../idempotency/idempotency-key.repository';

const BATCH = 500;
/**
 * How many queue look-ups are in flight at once. On the PostgreSQL backend each one holds a
 * connection of its queue's pool, so a pass over a long backlog must not drain them.
 */
const LOOKUPS = 4;
/** A job is looked at only once it has been in its state this long, so that a create and its enqueue, or a claim, are not raced. */
const SETTLE_SECONDS = 5;
const ENDED_ENTRY: readonly EntryState[] = ['unknown', 'completed', 'failed'];

export interface ReconcileReport {
  expired: number;
  enqueued: number;
  recovered: number;
  failed: number;
  /** Pending jobs dispatched by the pass that ends the reconciliation (a dispatch missed, a retry's backoff over). */
  dispatched: number;
}

/**
 * PostgreSQL is the truth and the queue is derived from it. Every RECONCILE_INTERVAL (and once
 * at start-up), one process (whichever takes the advisory lock) brings the queue back in line:
 * dispatched jobs the queue no longer holds are queued again, running jobs whose attempt was lost
 * go back to pending (or fail once their attempts are spent), a dispatch pass gives pending jobs
 * whatever room a missed pass left, and queued jobs past their ttl
 * expire even when no worker is up. The same pass folds the users' usage deltas into their counter
 * caches (docs/counters.md) and deletes the Idempotency-Keys past IDEMPOTENCY_TTL. Each action is conditional on the row being as it was read,
 * so running it at any time, or in several processes, is safe.
 */
@Injectable()
export class JobReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JobReconciler.name);
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly jobs: JobRepository,
    private readonly queue: JobQueue,
    private readonly dispatcher: JobDispatcher,
    private readonly idempotencyKeys: IdempotencyKeyRepository,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass, if no other process is making one; null when another holds the lock. */
  async reconcile(): Promise<ReconcileReport | null> {
    return whileHolding(this.dataSource, AdvisoryLock.JobReconciler, () => this.reconcileLocked());
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pass = this.reconcile()
        .then((report) => report && this.log(report))
        .catch((error: Error) =>
          this.logger.warn(`Reconciliation failed, tried again in ${this.config.RECONCILE_INTERVAL} s: ${error.message}`),
        )
        .finally(() => this.schedule(this.config.RECONCILE_INTERVAL * 1000));
    }, delayMs);
    this.timer.unref();
  }

  private async reconcileLocked(): Promise<ReconcileReport> {
    await foldUsageDeltas(this.dataSource.manager);
    await this.idempotencyKeys.deleteExpired();
    const report: ReconcileReport = {
      expired: (await this.jobs.expireOverdue()).length,
      enqueued: 0,
      recovered: 0,
      failed: 0,
      dispatched: 0,
    };
    for (let afterId = 0; ;) {
      const batch = await this.jobs.deliveredBatch(afterId, BATCH, SETTLE_SECONDS);
      if (batch.length === 0) break;
      afterId = batch[batch.length - 1].id;
      for (let start = 0; start < batch.length; start += LOOKUPS) {
        await Promise.all(batch.slice(start, start + LOOKUPS).map((job) => this.reconcileJob(job, report)));
      }
    }
    report.dispatched = await this.dispatcher.dispatch();
    return report;
  }

  private async reconcileJob(job: Job, report: ReconcileReport): Promise<void> {
    const state = await this.queue.state(job);
    if (!ENDED_ENTRY.includes(state)) return;
    if (job.status === JOB_STATUS.queued) {
      const delivery = state === 'unknown' ? job : await this.jobs.redeliver(job);
      if (!delivery) return;
      await this.queue.enqueue(delivery);
      report.enqueued++;
      return;
    }
    if (await this.jobs.recoverLost(job)) {
      report.recovered++;
    } else {
      report.failed++;
    }
  }

  private log(report: ReconcileReport): void {
    if (report.expired + report.enqueued + report.recovered + report.failed === 0) return;
    this.logger.log(
      `Reconciled the queue with the database: ${report.enqueued} queued job(s) enqueued again, ` +
        `${report.recovered} lost attempt(s) requeued, ${report.failed} failed after their last attempt, ${report.expired} expired, ` +
        `${report.dispatched} dispatched`,
    );
  }
}
