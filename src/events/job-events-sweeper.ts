import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { JobEventRepository } from './job-event.repository';

const SWEEP_INTERVAL_MS = 60_000;

/** Deletes, every minute, the job events older than EVENTS_REPLAY: replay reads none older. */
@Injectable()
export class JobEventsSweeper implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(JobEventsSweeper.name);
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly events: JobEventRepository,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.sweeper = setInterval(() => {
      this.events
        .deleteOlderThan(this.config.EVENTS_REPLAY)
        .catch((error) => this.logger.warn(`Could not delete old job events: ${(error as Error).message}`));
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  beforeApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
