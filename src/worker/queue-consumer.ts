import { OnWorkerEvent, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Logger } from '@nestjs/common';

/**
 * A queue's consumer. At shutdown it stops taking entries at once, before the running attempts
 * are given their grace (JobRunner); BullMQ then closes it once they have settled.
 */
export abstract class QueueConsumer extends WorkerHost implements BeforeApplicationShutdown {
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.pause(true);
  }

  /** The queue's connection failing (BullMQ retries it); unheard, BullMQ prints the whole error object. */
  @OnWorkerEvent('error')
  onQueueError(error: Error): void {
    new Logger('Queue').warn(`The ${this.worker.name} queue: ${error.message}`);
  }
}
