import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { StorageObjectNotFoundError } from '../storage/storage.driver';
import { decodeFacts } from './image-decode';
import { ImageVerificationRepository, UnverifiedImage } from './image-verification.repository';
import { JobRunner } from '../job-runs/job-runner';
import { AdvisoryLock, whileHolding } from '../database/advisory-locks';

/** Originals decoded between two looks at the database: a pass over a backlog stays a series of short steps. */
const BATCH = 10;

export interface VerifyReport {
  verified: number;
  corrupt: number;
  missing: number;
  /** Images stored before placeholders existed that got them in this pass. */
  backfilled: number;
}

/**
 * Uploads are only checked for structure; the one full decode of an original happens in the
 * worker. A job's first step makes it; an original uploaded with no job gets it here: every
 * VERIFY_DELAY, one worker (whichever takes the advisory lock) decodes, a few at a time, the
 * originals unverified for VERIFY_DELAY with no unfinished job, and marks each verified, with its
 * oriented size and placeholders, or corrupt. An upload costs nothing more on its way in; a photo
 * with a job is decoded whole once. The same pass then gives images without placeholders theirs, a
 * few files at a time, in bounded memory: those stored before placeholders existed, and originals
 * a job decoded, whose operation's pipeline could not also yield them (docs/placeholders.md).
 */
@Injectable()
export class ImageVerifier implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ImageVerifier.name);
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** Files decoded before that no longer decode (MAX_PIXELS lowered since, say): tried once per process, not every pass. */
  private readonly undecodable = new Set<string>();

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
    const report: VerifyReport = { verified: 0, corrupt: 0, missing: 0, backfilled: 0 };
    for (let afterId = 0; !this.stopped;) {
      const batch = await this.images.unverifiedBatch(afterId, BATCH, this.config.VERIFY_DELAY);
      if (batch.length === 0) break;
      afterId = batch[batch.length - 1].id;
      for (const image of batch) {
        const data = await this.readOrMiss(image, report);
        if (data === null) continue;
        const decoded = await decodeFacts(data, this.config.MAX_PIXELS);
        if ('facts' in decoded) {
          await this.images.markVerified(image, decoded.facts);
          report.verified++;
        } else {
          await this.images.markCorrupt(image, decoded.failure);
          this.logger.warn(`Image ${image.id} is corrupt: ${decoded.failure}`);
          report.corrupt++;
        }
      }
    }
    for (let afterId = 0; !this.stopped;) {
      const batch = await this.images.withoutFactsBatch(afterId, BATCH);
      if (batch.length === 0) break;
      afterId = batch[batch.length - 1].id;
      // Images that share a file (reused work) are given its facts together, from one decode.
      for (const image of uniqueFiles(batch)) {
        if (this.undecodable.has(image.s3Key)) continue;
        const data = await this.readOrMiss(image, report);
        if (data === null) continue;
        const decoded = await decodeFacts(data, this.config.MAX_PIXELS);
        if ('facts' in decoded) {
          await this.images.recordFacts(image.s3Key, decoded.facts);
          report.backfilled++;
        } else {
          // Decoded before (by a job, or as an output the worker wrote): left as it is rather than marked.
          this.undecodable.add(image.s3Key);
          this.logger.warn(`Image ${image.id} has no placeholders: its file no longer decodes (${decoded.failure})`);
        }
      }
    }
    return report;
  }

  /** The file's bytes, or null when it is gone: left as it is, a job on it fails saying the file is missing. */
  private async readOrMiss(image: UnverifiedImage, report: VerifyReport): Promise<Buffer | null> {
    try {
      return await this.runner.read(image.s3Key);
    } catch (error) {
      if (!(error instanceof StorageObjectNotFoundError)) throw error;
      report.missing++;
      return null;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pass = this.verify()
        .then((report) => {
          if (report && report.verified + report.corrupt > 0) {
            this.logger.log(`Decoded ${report.verified + report.corrupt} uploaded original(s): ${report.corrupt} corrupt`);
          }
          if (report && report.backfilled > 0) this.logger.log(`Gave ${report.backfilled} stored file(s) their placeholders`);
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

function uniqueFiles(images: UnverifiedImage[]): UnverifiedImage[] {
  return [...new Map(images.map((image) => [image.s3Key, image])).values()];
}
