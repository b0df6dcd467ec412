import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { PgListener } from '../database/pg-listener';
import type { EventStream, JobEventMessage } from './event-stream';
import { JOB_EVENTS_CHANNEL } from './job-event-notice';
import { EventFilter, EventRow, JobEventRepository, toMessage } from './job-event.repository';

/**
 * After a lost listening connection, events are read back from this long before the last one
 * heard: a transaction that recorded its event earlier but committed later is still caught.
 */
const CATCH_UP_MARGIN_SECONDS = 5;
/**
 * A stopping node asks its streams' clients to reconnect after a delay drawn in this range, so
 * that they do not all land on the remaining nodes in the same instant.
 */
const RECONNECT_MIN_MS = 500;
const RECONNECT_SPREAD_MS = 2500;

interface Subscriber {
  filter: EventFilter;
  deliver(event: JobEventMessage): void;
}

/**
 * Live job events. Each API process holds ONE listening connection to PostgreSQL and fans the
 * trigger's notices out to its subscribers; after a lost connection it catches up from the
 * `job_events` table, which is the truth.
 */
@Injectable()
export class JobEventHub implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobEventHub.name);
  private readonly subscribers = new Set<Subscriber>();
  private readonly streams = new Set<EventStream>();
  private stopping = false;
  private readonly listener: PgListener;
  /** The database time of the last event heard, from which a reconnection catches up. */
  private lastHeardAt: string | null = null;
  /** Notices are dispatched in the order they came, even those whose data must first be read. */
  private dispatching: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(private readonly events: JobEventRepository) {
    this.listener = events.listener({
      channel: JOB_EVENTS_CHANNEL,
      description: 'job events',
      onNotify: (payload) => this.onNotice(payload),
      onListening: () => this.listening(),
    });
  }

  async onModuleInit(): Promise<void> {
    await this.listener.start();
  }

  /** Before the HTTP server closes: open streams would otherwise keep it waiting. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    for (const stream of [...this.streams]) stream.handOver(reconnectDelay());
    await this.listener.close();
  }

  /** Delivers the events `filter` selects to `deliver` until the answer is called. */
  subscribe(filter: EventFilter, deliver: (event: JobEventMessage) => void): () => void {
    const subscriber: Subscriber = { filter, deliver };
    this.subscribers.add(subscriber);
    return () => void this.subscribers.delete(subscriber);
  }

  /** Keeps `stream` until it ends, so that a shutdown ends it. */
  track(stream: EventStream): () => void {
    // Opened on a kept-alive connection while the listener closes: nothing would end it.
    if (this.stopping) {
      stream.handOver(reconnectDelay());
      return () => undefined;
    }
    this.streams.add(stream);
    return () => void this.streams.delete(stream);
  }

  private dispatch(event: JobEventMessage): void {
    for (const subscriber of this.subscribers) {
      const { filter } = subscriber;
      const wanted = 'jobId' in filter ? filter.jobId === event.jobId : filter.userId === null || filter.userId === event.userId;
      if (wanted) subscriber.deliver(event);
    }
  }

  private onNotice(payload: string | undefined): void {
    if (!payload) return;
    const notice = JSON.parse(payload) as EventRow;
    if (typeof notice.data?.at === 'string') this.lastHeardAt = notice.data.at;
    if (notice.data && this.queued === 0) {
      this.dispatch(toMessage(notice));
      return;
    }
    this.enqueue(async () => {
      const rows = notice.data ? [notice] : await this.events.byId(notice.id);
      for (const row of rows) this.dispatch(toMessage(row));
    });
  }

  /** Runs `work` after every dispatch queued before it. */
  private enqueue(work: () => Promise<void>): void {
    this.queued++;
    this.dispatching = this.dispatching
      .then(work)
      .catch((error) => this.logger.warn(`Could not read job events: ${(error as Error).message}`))
      .finally(() => this.queued--);
  }

  /**
   * Once listening: the first time, notes the database's time, from which a lost connection will
   * catch up; after a reconnection, catches up from the last event heard.
   */
  private async listening(): Promise<void> {
    const since = this.lastHeardAt;
    if (since === null) {
      this.lastHeardAt = await this.events.now();
      return;
    }
    this.catchUp(since);
  }

  /** After a reconnection: the events committed while no one listened, in order (streams drop those they sent). */
  private catchUp(since: string): void {
    this.enqueue(async () => {
      for (const row of await this.events.since(since, CATCH_UP_MARGIN_SECONDS)) this.dispatch(toMessage(row));
    });
  }
}

function reconnectDelay(): number {
  return RECONNECT_MIN_MS + Math.floor(Math.random() * RECONNECT_SPREAD_MS);
}
