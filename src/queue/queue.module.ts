import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import { createPostgresBackend, Queue, withBackend, Worker } from 'bullmq';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { InstallationRepository } from '../database/installation.repository';

const QUEUE_POOL_IDLE_MS = 2000;

/**
 * BullMQ on Redis when REDIS_URL is set (the scale-out path), otherwise on BullMQ's PostgreSQL
 * backend in the application's own database, so the one-command start needs no other service.
 * The queues themselves are registered by their producers' modules (JobQueueModule, WebhookQueueModule).
 */
@Module({})
export class QueueModule {
  static forRoot(config: AppConfig, databaseUrl: string): DynamicModule {
    const classes = config.REDIS_URL ? { Queue, Worker } : withBackend(createPostgresBackend);
    BullModule.queueClass = classes.Queue;
    BullModule.workerClass = classes.Worker;
    // Every queue and worker of a process opens a pool of its own on the PostgreSQL backend: a few
    // connections each keep a process with three queues and three workers far from max_connections.
    // A pool gives back a connection idle for 2 s (pg's default is 10 s): a busy queue keeps its
    // connections, and the many pools of many processes do not sit on the server's connections
    // between bursts.
    const connection = config.REDIS_URL
      ? redisConnection(config.REDIS_URL)
      : { connectionString: databaseUrl, max: 4, idleTimeoutMillis: QUEUE_POOL_IDLE_MS };
    return {
      module: QueueModule,
      global: true,
      imports: [
        BullModule.forRootAsync({
          inject: [getDataSourceToken()],
          useFactory: async (dataSource: DataSource) => ({
            connection: connection as never,
            prefix: queuePrefix(config.QUEUE_PREFIX, await installationId(dataSource)),
          }),
        }),
      ],
      exports: [BullModule],
    };
  }
}

/**
 * The Redis namespace of this database's queues: QUEUE_PREFIX, then the installation id its
 * migration drew. (BullMQ's PostgreSQL backend keeps its queues in the database itself.)
 */
export function queuePrefix(configured: string, installation: string): string {
  return `${configured}:${installation}`;
}

export function installationId(dataSource: DataSource): Promise<string> {
  return new InstallationRepository(dataSource).id();
}

/** ioredis options from a redis:// or rediss:// URL (user, password, database, TLS). */
export function redisConnection(url: string) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    // Workers block on Redis; BullMQ requires unlimited retries per request for them.
    maxRetriesPerRequest: null,
  };
}
