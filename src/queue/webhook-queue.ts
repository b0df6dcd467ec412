import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { DynamicModule, Injectable, Logger, Module } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppConfig } from '../config/app-config';
import type { EntryState } from '../job-runs/job-queue';

/** The queue of webhook attempts, on the same backend as the pipelines' queues. */
export const WEBHOOK_QUEUE = 'webhooks';

/** What a webhook queue entry carries: which delivery, and which of its attempts (0 for the first). */
export interface WebhookAttemptData {
  deliveryId: string;
  attempt: number;
}

/**
 * An entry is named by its delivery and attempt number, so that however many processes announce
 * the same attempt (the notice reaches every worker; the reconciler may add it again), the queue
 * holds it once.
 */
export function webhookEntryId(deliveryId: string, attempt: number): string {
  return `webhook-${deliveryId}-${attempt}`;
}

/** The producer of the webhooks queue: the only code that knows BullMQ's API for it. */
@Injectable()
export class WebhookQueue {
  constructor(
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookAttemptData>,
    private readonly config: AppConfig,
  ) {
    const logger = new Logger('Queue');
    queue.on('error', (error) => logger.warn(`The ${WEBHOOK_QUEUE} queue: ${error.message}`));
  }

  /** Idempotent. Each attempt is its own entry, tried once: the retries and their backoff are the delivery's own. */
  async add(deliveryId: string, attempt: number, delayMs = 0): Promise<void> {
    await this.queue.add(
      'deliver',
      { deliveryId, attempt },
      {
        jobId: webhookEntryId(deliveryId, attempt),
        delay: delayMs,
        attempts: 1,
        removeOnComplete: { age: this.config.RESULT_TTL },
        removeOnFail: { age: this.config.RESULT_TTL },
      },
    );
  }

  async state(deliveryId: string, attempt: number): Promise<EntryState> {
    return (await this.queue.getJobState(webhookEntryId(deliveryId, attempt))) as EntryState;
  }

  /** Takes an ended entry out of the queue's store, so that the same attempt can be added again. */
  async remove(deliveryId: string, attempt: number): Promise<void> {
    await this.queue.remove(webhookEntryId(deliveryId, attempt));
  }
}

/**
 * Registers the webhooks queue (workers only: the API never touches it) and its producer. A
 * dynamic module, made after QueueModule.forRoot has chosen the backend's queue class:
 * registerQueue reads that class when it is called.
 */
@Module({})
export class WebhookQueueModule {
  static register(): DynamicModule {
    return {
      module: WebhookQueueModule,
      imports: [BullModule.registerQueue({ name: WEBHOOK_QUEUE })],
      providers: [WebhookQueue],
      exports: [WebhookQueue, BullModule],
    };
  }
}
