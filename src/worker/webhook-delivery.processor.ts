import { Processor } from '@nestjs/bullmq';
import type { Job as QueuedJob } from 'bullmq';
import { WEBHOOK_QUEUE, WebhookAttemptData } from '../queue/webhook-queue';
import { QueueConsumer } from './queue-consumer';
import { WebhookDeliverer } from './webhook-deliverer';
import { QUEUE_WORKER_OPTIONS } from './worker-options';

/** Attempts in flight per worker process: each mostly waits on a receiver (up to 10 s), so more than the cores. */
const DELIVERY_CONCURRENCY = 16;

/** Consumes the `webhooks` queue: one entry is one attempt. Every worker process serves it. */
@Processor(WEBHOOK_QUEUE, { ...QUEUE_WORKER_OPTIONS, concurrency: DELIVERY_CONCURRENCY })
export class WebhookDeliveryProcessor extends QueueConsumer {
  constructor(private readonly deliverer: WebhookDeliverer) {
    super();
  }

  process(entry: QueuedJob<WebhookAttemptData>): Promise<void> {
    return this.deliverer.attempt(entry.data.deliveryId, entry.data.attempt);
  }
}
