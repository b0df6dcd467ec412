import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { within } from '../common/within';
import { JobQueue, QueueEntryCounts } from '../job-runs/job-queue';
import { CachedReading } from '../metrics/cached-reading';
import { MetricsRegistry } from '../metrics/metrics-registry';
import { QueueStats, QueueStatsRepository } from '../queues/queue-stats.repository';

/** Scrapes within this time of each other share one reading: a scrape costs at most one count a second or two. */
const CACHE_MS = 2000;
/** A queue store or database that hangs must not hang the scrape: its figures are left out instead. */
const READ_TIMEOUT_MS = 2000;
/** What waits, what runs, what is delayed, what failed: an ended entry is no load. */
const MONITORED_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * `darkroom_queue_jobs{queue, state}`: each queue's entries waiting, active, delayed and failed,
 * read from the queue's store (BullMQ's getJobCounts, on either backend), and its `pending` jobs,
 * read from PostgreSQL: queued jobs the dispatcher has not given an entry yet, which is where a
 * backlog waits. The backlog an autoscaler scales workers on is `state=~"pending|waiting"`.
 * `darkroom_queue_paused{queue}`: 1 while an admin has paused the queue. Both are read when
 * Prometheus scrapes; either source being out of reach leaves out its figures only.
 */
@Injectable()
export class QueueDepthMetrics {
  private readonly logger = new Logger(QueueDepthMetrics.name);
  private readonly entries: CachedReading<Record<string, QueueEntryCounts>>;
  private readonly stats: CachedReading<QueueStats[]>;

  constructor({ registry }: MetricsRegistry, queue: JobQueue, stats: QueueStatsRepository) {
    this.entries = new CachedReading(CACHE_MS, () => within(queue.countsByQueue(), READ_TIMEOUT_MS, 'the queue store'));
    this.stats = new CachedReading(CACHE_MS, () => within(stats.all(), READ_TIMEOUT_MS, 'the database'));
    const readEntries = () => this.read(this.entries, 'Queue depth');
    const readStats = () => this.read(this.stats, 'Pending jobs and pauses');
    new Gauge({
      name: 'darkroom_queue_jobs',
      help:
        `Entries of each queue by state (waiting, active, delayed, failed), and its pending jobs (queued, no entry yet), ` +
        `read at scrape time (cached ${CACHE_MS / 1000} s)`,
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        const [counts, queues] = await Promise.all([readEntries(), readStats()]);
        for (const [queue, states] of Object.entries(counts ?? {})) {
          for (const state of MONITORED_STATES) this.set({ queue, state }, states[state]);
        }
        for (const queue of queues ?? []) {
          this.set({ queue: queue.name, state: 'pending' }, queue.pendingByLane.interactive + queue.pendingByLane.bulk);
        }
      },
    });
    new Gauge({
      name: 'darkroom_queue_paused',
      help: `1 while an admin has paused the queue (POST /api/queues/:name/pause), 0 otherwise (cached ${CACHE_MS / 1000} s)`,
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const queue of (await readStats()) ?? []) this.set({ queue: queue.name }, queue.paused ? 1 : 0);
      },
    });
  }

  private async read<T>(reading: CachedReading<T>, what: string): Promise<T | null> {
    try {
      return await reading.get();
    } catch (error) {
      this.logger.warn(`${what} left out of the metrics: ${(error as Error).message}`);
      return null;
    }
  }
}
