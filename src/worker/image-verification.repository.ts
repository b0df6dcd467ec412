import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IMAGE_STATUS } from '../pipelines/image-states';
import type { ImageFacts } from '../pipelines/operation-output';

/** An uploaded original still waiting for its one full decode, or an image still without its facts. */
export interface UnverifiedImage {
  id: number;
  s3Key: string;
}

/**
 * The outcome of an original's one full decode (docs/upload-check.md). Each write names the file
 * that was decoded, so that a file replaced meanwhile (which resets the outcome) is not marked.
 */
@Injectable()
export class ImageVerificationRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Originals unverified for `settledSeconds` with no unfinished job (a job decodes them itself), by id after `afterId`. */
  async unverifiedBatch(afterId: number, limit: number, settledSeconds: number): Promise<UnverifiedImage[]> {
    // The status is written out, not bound, so that the planner matches images_unverified_idx's predicate.
    const rows: { id: number; s3_key: string }[] = await this.dataSource.query(
      `SELECT i.id, i.s3_key FROM images i
        WHERE i.verified_at IS NULL AND i.status = '${IMAGE_STATUS.originalStored}' AND i.id > $1
          AND i.updated_at < now() - make_interval(secs => $2)
          AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.image_id = i.id AND j.status IN ('queued', 'running'))
        ORDER BY i.id LIMIT $3`,
      [afterId, settledSeconds, limit],
    );
    return rows.map((row) => ({ id: row.id, s3Key: row.s3_key }));
  }

  /**
   * Images stored before placeholders existed, by id after `afterId`: outputs, and originals already
   * verified (the unverified ones get theirs with their decode). Read through images_facts_missing_idx,
   * which only such images are in.
   */
  async withoutFactsBatch(afterId: number, limit: number): Promise<UnverifiedImage[]> {
    const rows: { id: number; s3_key: string }[] = await this.dataSource.query(
      `SELECT id, s3_key FROM images
        WHERE blurhash IS NULL AND s3_key IS NOT NULL AND id > $1
          AND (status = '${IMAGE_STATUS.processed}' OR (status = '${IMAGE_STATUS.originalStored}' AND verified_at IS NOT NULL))
        ORDER BY id LIMIT $2`,
      [afterId, limit],
    );
    return rows.map((row) => ({ id: row.id, s3Key: row.s3_key }));
  }

  /** The decode succeeded: the original is verified, with its oriented size and placeholders. */
  async markVerified(image: UnverifiedImage, facts: ImageFacts): Promise<void> {
    await this.dataSource.query(
      `UPDATE images SET verified_at = now(), width = $3, height = $4, blurhash = $5, dominant_color = $6, updated_at = now()
        WHERE id = $1 AND s3_key = $2 AND verified_at IS NULL`,
      [image.id, image.s3Key, facts.width, facts.height, facts.blurhash, facts.dominantColor],
    );
  }

  /** The facts of a file stored before they were computed, for every image that shows it (reused work shares files). */
  async recordFacts(s3Key: string, facts: ImageFacts): Promise<void> {
    await this.dataSource.query(
      `UPDATE images SET width = $2, height = $3, blurhash = $4, dominant_color = $5, updated_at = now()
        WHERE s3_key = $1 AND blurhash IS NULL AND status IN ('${IMAGE_STATUS.processed}', '${IMAGE_STATUS.originalStored}')`,
      [s3Key, facts.width, facts.height, facts.blurhash, facts.dominantColor],
    );
  }

  /** Rare, so a statement of its own: the image shows `corrupt` with the decoder's reason. */
  async markCorrupt(image: UnverifiedImage, reason: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE images SET status = $3, corrupt_reason = $4, verified_at = now(), updated_at = now()
        WHERE id = $1 AND s3_key = $2 AND status = $5`,
      [image.id, image.s3Key, IMAGE_STATUS.corrupt, reason, IMAGE_STATUS.originalStored],
    );
  }
}
