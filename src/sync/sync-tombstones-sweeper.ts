import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { SyncRepository } from './sync.repository';

const SWEEP_INTERVAL_MS = 60_000;

/**
 * Purges, every minute, the sync tombstones older than SYNC_TOMBSTONE_DAYS, as the job events and
 * sessions are swept. Each API process sweeps: a purge is one statement, safe beside another.
 */
@Injectable()
export class SyncTombstonesSweeper implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(SyncTombstonesSweeper.name);
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly changes: SyncRepository,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.sweeper = setInterval(() => {
      this.sweep().catch((error: Error) => this.logger.warn(`Could not purge old sync tombstones: ${error.message}`));
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  beforeApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** One purge now; answers how many tombstones went. */
  sweep(): Promise<number> {
    return this.changes.purgeTombstones(this.config.SYNC_TOMBSTONE_DAYS);
  }
}
