import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IMAGE_STATUS } from '../pipelines/image-states';

/** An uploaded original still waiting for its one full decode. */
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

  async markVerified(image: UnverifiedImage): Promise<void> {
    await this.dataSource.query('UPDATE images SET verified_at = now() WHERE id = $1 AND s3_key = $2 AND verified_at IS NULL', [
      image.id,
      image.s3Key,
    ]);
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
