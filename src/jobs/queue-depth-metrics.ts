import { Injectable, Logger } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { within } from '../common/within';
import { JobQueue, QueueEntryCounts } from '../job-runs/job-queue';
import { CachedReading } from '../metrics/cached-reading';
import { MetricsRegistry } from '../metrics/metrics-registry';

/** Scrapes within this time of each other share one reading: a scrape costs at most one count a second or two. */
const CACHE_MS = 2000;
/** A queue store that hangs must not hang the scrape: its figures are left out instead. */
const READ_TIMEOUT_MS = 2000;
/** What waits, what runs, what is delayed, what failed: an ended entry is no load. */
const MONITORED_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/**
 * `darkroom_queue_jobs{queue, state}`: each queue's entries waiting, active, delayed and failed,
 * read from the queue's store (BullMQ's getJobCounts, on either backend) when Prometheus scrapes.
 * The figure an autoscaler scales workers on is `state="waiting"`.
 */
@Injectable()
export class QueueDepthMetrics {
  private readonly logger = new Logger(QueueDepthMetrics.name);
  private readonly counts: CachedReading<Record<string, QueueEntryCounts>>;

  constructor({ registry }: MetricsRegistry, queue: JobQueue) {
    this.counts = new CachedReading(CACHE_MS, () => within(queue.countsByQueue(), READ_TIMEOUT_MS, 'the queue store'));
    const read = () => this.read();
    new Gauge({
      name: 'darkroom_queue_jobs',
      help: `Entries of each queue by state (waiting, active, delayed, failed), read at scrape time (cached ${CACHE_MS / 1000} s)`,
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        const counts = await read();
        for (const [queue, states] of Object.entries(counts ?? {})) {
          for (const state of MONITORED_STATES) this.set({ queue, state }, states[state]);
        }
      },
    });
  }

  private async read(): Promise<Record<string, QueueEntryCounts> | null> {
    try {
      return await this.counts.get();
    } catch (error) {
      this.logger.warn(`Queue depth left out of the metrics: ${(error as Error).message}`);
      return null;
    }
  }
}
