import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { ResumableUpload, UPLOAD_STATE } from './upload.entity';
import type { UploadRequest } from './upload-request';

/** The uploads table: who owns each resumable upload, and which request completes it. */
@Injectable()
export class UploadRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(row: { id: string; userId: number; metadata: UploadRequest; size: number; expiresInSeconds: number }): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO uploads (id, user_id, metadata, size, expires_at) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      [row.id, row.userId, JSON.stringify(row.metadata), row.size, row.expiresInSeconds],
    );
  }

  find(id: string): Promise<ResumableUpload | null> {
    return this.dataSource.getRepository(ResumableUpload).findOneBy({ id });
  }

  /** The length of upload `id` once it is completed; null while it is not (or does not exist). */
  async completedSize(id: string): Promise<number | null> {
    const [row] = (await this.dataSource.query(`SELECT size FROM uploads WHERE id = $1 AND state = $2`, [id, UPLOAD_STATE.completed])) as {
      size: string;
    }[];
    return row ? Number(row.size) : null;
  }

  /**
   * Moves upload `id` to `completing` for the caller, and answers it, when it is receiving, or when
   * the request completing it has been silent `abandonedSeconds` (its process died): the one
   * request this answers makes the image. Null: another request holds it, or it is completed.
   */
  async claim(id: string, abandonedSeconds: number): Promise<ResumableUpload | null> {
    const [rows] = (await this.dataSource.query(
      `UPDATE uploads SET state = $2, claimed_at = now()
        WHERE id = $1 AND (state = $3 OR (state = $2 AND claimed_at < now() - make_interval(secs => $4)))
        RETURNING id`,
      [id, UPLOAD_STATE.completing, UPLOAD_STATE.receiving, abandonedSeconds],
    )) as [{ id: string }[], number];
    return rows.length === 0 ? null : this.find(id);
  }

  /** Gives back a claim whose completion failed: the upload is receiving again, for a retry to complete. */
  async release(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE uploads SET state = $2, claimed_at = NULL WHERE id = $1 AND state = $3`, [
      id,
      UPLOAD_STATE.receiving,
      UPLOAD_STATE.completing,
    ]);
  }

  /** Tells other requests that the completion of upload `id` is alive (see claim). */
  async touchClaim(id: string): Promise<void> {
    await this.dataSource.query(`UPDATE uploads SET claimed_at = now() WHERE id = $1 AND state = $2`, [id, UPLOAD_STATE.completing]);
  }

  /**
   * In the image's transaction: the upload made image `imageId`. False when the upload is no longer
   * being completed (another request took over a claim it thought abandoned, or it expired): the
   * caller rolls its image back.
   */
  async markCompleted(manager: EntityManager, id: string, imageId: number): Promise<boolean> {
    const [, changed] = (await manager.query(
      `UPDATE uploads SET state = $2, image_id = $3, claimed_at = NULL WHERE id = $1 AND state = $4`,
      [id, UPLOAD_STATE.completed, imageId, UPLOAD_STATE.completing],
    )) as [unknown, number];
    return changed === 1;
  }

  async recordJob(id: string, jobId: number): Promise<void> {
    await this.dataSource.query(`UPDATE uploads SET job_id = $2 WHERE id = $1`, [id, jobId]);
  }

  async delete(id: string): Promise<void> {
    await this.dataSource.query(`DELETE FROM uploads WHERE id = $1`, [id]);
  }

  /**
   * Up to `limit` uploads past their expiry, oldest first; not one a request is completing (a
   * claim heard from within `abandonedSeconds`), whose bytes it is reading.
   */
  async expired(limit: number, abandonedSeconds: number): Promise<Pick<ResumableUpload, 'id' | 'state'>[]> {
    return (await this.dataSource.query(
      `SELECT id, state FROM uploads
        WHERE expires_at < now() AND NOT (state = $2 AND claimed_at >= now() - make_interval(secs => $3))
        ORDER BY expires_at LIMIT $1`,
      [limit, UPLOAD_STATE.completing, abandonedSeconds],
    )) as Pick<ResumableUpload, 'id' | 'state'>[];
  }
}
