import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { JOB_STOP_CHANNEL } from '../jobs/job.repository';

const RECONNECT_DELAY_MS = 1000;

/**
 * Tells a running attempt that its job was cancelled, deleted or failed elsewhere, the moment the
 * API commits it: PostgreSQL's LISTEN/NOTIFY reaches every worker process on any machine, on
 * either queue backend. A notice missed while the connection was down costs only time: the
 * attempt's fence refuses its next write, at the end of its current step at the latest.
 */
@Injectable()
export class JobStopListener implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(JobStopListener.name);
  private readonly running = new Map<number, AbortController>();
  private client: Client | null = null;
  private closed = false;

  private reconnecting = false;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    await this.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => undefined);
  }

  /** A signal that aborts when job `jobId` is stopped; release it when the attempt ends. */
  watch(jobId: number): { signal: AbortSignal; release(): void } {
    const controller = new AbortController();
    this.running.set(jobId, controller);
    return {
      signal: controller.signal,
      release: () => {
        if (this.running.get(jobId) === controller) this.running.delete(jobId);
      },
    };
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: (this.dataSource.options as PostgresDataSourceOptions).url });
    client.on('notification', ({ payload }) => this.running.get(Number(payload))?.abort(new JobStopped()));
    client.on('error', (error) => this.logger.warn(`Lost the job-stop channel (${error.message}); reconnecting`));
    client.on('end', () => {
      if (this.client !== client) return;
      this.client = null;
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${JOB_STOP_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
  }

  /** One reconnection loop at a time, however many events announce the loss. */
  private scheduleReconnect(): void {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    setTimeout(() => {
      this.connect()
        .then(() => (this.reconnecting = false))
        .catch(() => {
          this.reconnecting = false;
          this.scheduleReconnect();
        });
    }, RECONNECT_DELAY_MS).unref();
  }
}

/** The abort reason of an attempt whose job was stopped through the API. */
export class JobStopped extends Error {
  constructor() {
    super('The job was stopped');
  }
}
