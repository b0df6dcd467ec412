import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { JobQueue } from '../job-runs/job-queue';
import { redisConnection } from '../queue/queue.module';

/** Whether the queue's store answers, for the readiness check. */
@Injectable()
export class QueueProbe implements OnApplicationShutdown {
  private redis: Redis | null = null;

  constructor(
    private readonly queue: JobQueue,
    private readonly config: AppConfig,
  ) {}

  get backend(): 'redis' | 'postgres' {
    return this.config.REDIS_URL ? 'redis' : 'postgres';
  }

  /**
   * On Redis, a PING on a connection of the probe's own that refuses commands while disconnected:
   * BullMQ's connections would hold the command until Redis is back. On the PostgreSQL backend,
   * a count of the queues' entries, through BullMQ's own pools and tables.
   */
  async check(): Promise<void> {
    if (!this.config.REDIS_URL) {
      await this.queue.countsByQueue();
      return;
    }
    if (!this.redis) {
      this.redis = new Redis({
        ...redisConnection(this.config.REDIS_URL),
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
      });
      // Reported by the check that fails; ioredis would print every reconnection error otherwise.
      this.redis.on('error', () => undefined);
    }
    if (this.redis.status === 'wait') await this.redis.connect();
    await this.redis.ping();
  }

  onApplicationShutdown(): void {
    this.redis?.disconnect();
  }
}
