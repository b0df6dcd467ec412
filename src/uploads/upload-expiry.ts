import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AdvisoryLock, whileHolding } from '../database/advisory-locks';
import { UploadsService } from './uploads.service';

const PASS_INTERVAL_MS = 60_000;

/**
 * Every minute, one API process of the installation (whichever takes the advisory lock) deletes
 * the resumable uploads past UPLOAD_EXPIRY (UploadsService.deleteExpired): two passes at once
 * would race to remove the same files, which tus's stores report as failures.
 */
@Injectable()
export class UploadExpiry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UploadExpiry.name);
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<unknown> = Promise.resolve();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly uploads: UploadsService,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.pass = this.run().catch((error: Error) => this.logger.warn(`Could not delete expired uploads: ${error.message}`));
    }, PASS_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.pass;
  }

  /** One pass, unless another process is making one (then null). */
  async run(): Promise<number | null> {
    const deleted = await whileHolding(this.dataSource, AdvisoryLock.UploadExpiry, () => this.uploads.deleteExpired());
    if (deleted) this.logger.log(`Deleted ${deleted} expired upload${deleted === 1 ? '' : 's'}`);
    return deleted;
  }
}
