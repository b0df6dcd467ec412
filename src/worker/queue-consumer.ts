import { WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown } from '@nestjs/common';

/**
 * A queue's consumer. At shutdown it stops taking entries at once, before the running attempts
 * are given their grace (JobRunner); BullMQ then closes it once they have settled.
 */
export abstract class QueueConsumer extends WorkerHost implements BeforeApplicationShutdown {
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.pause(true);
  }
}
