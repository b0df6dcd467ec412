import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { AppConfig } from '../config/app-config';
import { PgListener } from '../database/pg-listener';
import { JOB_EVENTS_CHANNEL, JobEventNotice } from '../events/job-event-notice';
import type { EntryState } from '../job-runs/job-queue';
import { WebhookQueue } from '../queue/webhook-queue';
import { WebhookRepository } from '../webhooks/webhook.repository';
import { AdvisoryLock, whileHolding } from '../database/advisory-locks';

const BATCH = 500;
/** An attempt is looked at only once it is this overdue, so that an enqueue or a worker about to take it is not raced. */
const SETTLE_SECONDS = 5;
const ENDED_ENTRY: readonly EntryState[] = ['completed', 'failed'];

/**
 * Feeds the webhooks queue from `webhook_deliveries`. The trigger that records a delivery names it
 * in the notice of the job's change, sent at commit on the job events' channel (one notice a
 * change, whoever listens); every worker hears it and adds its first attempt (the queue keeps one
 * entry whoever adds it). A notice nobody heard (no worker was up, the connection was down) and an
 * attempt whose entry was lost are caught by a pass every RECONCILE_INTERVAL, made by one worker
 * at a time under an advisory lock: any pending delivery whose attempt is overdue and not in the
 * queue is added again.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Webhooks');
  private readonly listener: PgListener;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<unknown> = Promise.resolve();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly deliveries: WebhookRepository,
    private readonly queue: WebhookQueue,
    private readonly config: AppConfig,
  ) {
    this.listener = new PgListener({
      url: (dataSource.options as PostgresDataSourceOptions).url!,
      channel: JOB_EVENTS_CHANNEL,
      description: 'job events (for webhooks)',
      // Notices sent while the channel was lost are made up for by the next pass.
      onNotify: (payload) => {
        const delivery = payload ? (JSON.parse(payload) as JobEventNotice).delivery : null;
        if (!delivery) return;
        this.queue
          .add(delivery, 0)
          .catch((error: Error) => this.logger.warn(`Webhook ${delivery} not queued yet (${error.message}); the next pass queues it`));
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.listener.start();
    this.schedule(0);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.listener.close();
    await this.pass;
  }

  /** One pass, unless another worker is making one: the number of attempts queued again, or null. */
  async reconcile(): Promise<number | null> {
    return whileHolding(this.dataSource, AdvisoryLock.WebhookReconciler, () => this.requeueOverdue());
  }

  private async requeueOverdue(): Promise<number> {
    let requeued = 0;
    for (let afterId = '00000000-0000-0000-0000-000000000000'; ;) {
      const batch = await this.deliveries.overdueBatch(afterId, BATCH, SETTLE_SECONDS);
      if (batch.length === 0) return requeued;
      afterId = batch[batch.length - 1].id;
      for (const delivery of batch) {
        const state = await this.queue.state(delivery.id, delivery.attempts);
        if (state !== 'unknown' && !ENDED_ENTRY.includes(state)) continue;
        // An entry that ended without its attempt being recorded (its worker failed to write) is replaced.
        if (state !== 'unknown') await this.queue.remove(delivery.id, delivery.attempts);
        await this.queue.add(delivery.id, delivery.attempts);
        requeued++;
      }
    }
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.pass = this.reconcile()
        .then((requeued) => {
          if (requeued) this.logger.log(`Queued ${requeued} overdue webhook attempt(s) again`);
        })
        .catch((error: Error) =>
          this.logger.warn(`The webhook pass failed, tried again in ${this.config.RECONCILE_INTERVAL} s: ${error.message}`),
        )
        .finally(() => this.schedule(this.config.RECONCILE_INTERVAL * 1000));
    }, delayMs);
    this.timer.unref();
  }
}
