import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { StorageObjectNotFoundError } from '../storage/storage.driver';
import { decodeFailure } from './image-decode';
import { ImageVerificationRepository } from './image-verification.repository';
import { JobRunner } from '../job-runs/job-runner';
import { AdvisoryLock, whileHolding } from '../database/advisory-locks';

/** Originals decoded between two looks at the database: a pass over a backlog stays a series of short steps. */
const BATCH = 10;

export interface VerifyReport {
  verified: number;
  corrupt: number;
  missing: number;
}

/**
 * Uploads are only checked for structure; the one full decode of an original happens in the
 * worker. A job's first step makes it; an original uploaded with no job gets it here: every
 * VERIFY_DELAY, one worker (whichever takes the advisory lock) decodes, a few at a time, the
 * originals unverified for VERIFY_DELAY with no unfinished job, and marks each verified or
 * corrupt. An upload costs nothing more on its way in; a photo with a job is decoded once.
 */
@Injectable()
export class ImageVerifier implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ImageVerifier.name);
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly images: ImageVerificationRepository,
    private readonly runner: JobRunner,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(this.config.VERIFY_DELAY * 1000);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass, if no other worker is making one; null when another holds the lock. */
  async verify(): Promise<VerifyReport | null> {
    return whileHolding(this.dataSource, AdvisoryLock.ImageVerifier, () => this.verifyLocked());
  }

  private async verifyLocked(): Promise<VerifyReport> {
    const report: VerifyReport = { verified: 0, corrupt: 0, missing: 0 };
    for (let afterId = 0; !this.stopped;) {
      const batch = await this.images.unverifiedBatch(afterId, BATCH, this.config.VERIFY_DELAY);
      if (batch.length === 0) break;
      afterId = batch[batch.length - 1].id;
      for (const image of batch) {
        let data: Buffer;
        try {
          data = await this.runner.read(image.s3Key);
        } catch (error) {
          // Left unverified: a job on it fails saying the file is missing; nothing to decode here.
          if (!(error instanceof StorageObjectNotFoundError)) throw error;
          report.missing++;
          continue;
        }
        const reason = await decodeFailure(data, this.config.MAX_PIXELS);
        if (reason === null) {
          await this.images.markVerified(image);
          report.verified++;
        } else {
          await this.images.markCorrupt(image, reason);
          this.logger.warn(`Image ${image.id} is corrupt: ${reason}`);
          report.corrupt++;
        }
      }
    }
    return report;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pass = this.verify()
        .then((report) => {
          if (report && report.verified + report.corrupt > 0) {
            this.logger.log(`Decoded ${report.verified + report.corrupt} uploaded original(s): ${report.corrupt} corrupt`);
          }
        })
        .catch((error: Error) =>
          this.logger.warn(
            `The pass that decodes uploaded originals failed, tried again in ${this.config.VERIFY_DELAY} s: ${error.message}`,
          ),
        )
        .finally(() => this.schedule(this.config.VERIFY_DELAY * 1000));
    }, delayMs);
    this.timer.unref();
  }
}
