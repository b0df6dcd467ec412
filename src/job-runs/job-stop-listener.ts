import { Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions';
import { PgListener } from '../database/pg-listener';
import { JOB_STOP_CHANNEL } from './job.repository';

/**
 * Tells a running attempt that its job was cancelled, deleted or failed elsewhere, the moment the
 * API commits it: PostgreSQL's LISTEN/NOTIFY reaches every worker process on any machine, on
 * either queue backend. A notice missed while the connection was down costs only time: the
 * attempt's fence refuses its next write, at the end of its current step at the latest.
 */
@Injectable()
export class JobStopListener implements OnModuleInit, OnApplicationShutdown {
  private readonly running = new Map<number, AbortController>();
  private readonly listener: PgListener;

  constructor(@InjectDataSource() dataSource: DataSource) {
    this.listener = new PgListener({
      url: (dataSource.options as PostgresDataSourceOptions).url!,
      channel: JOB_STOP_CHANNEL,
      description: 'job-stop',
      onNotify: (payload) => this.running.get(Number(payload))?.abort(new JobStopped()),
    });
  }

  async onModuleInit(): Promise<void> {
    await this.listener.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener.close();
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
}

/** The abort reason of an attempt whose job was stopped through the API. */
export class JobStopped extends Error {
  constructor() {
    super('The job was stopped');
  }
}
