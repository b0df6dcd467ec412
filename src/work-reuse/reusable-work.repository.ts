import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { IMAGE_STATUS } from '../pipelines/image-states';

/** How many stored files of the same work a step looks at before it computes the work again. */
const FILES_PER_WORK_KEY = 3;
/** How many of a work key's earliest images are read to find those files. */
export const EARLIEST_IMAGES_PER_KEY = 100;

/** An earlier output whose file a step with the same work key may point at instead of computing it. */
export interface StoredWork {
  /** The oldest image that points at the file with this work key: its histogram, if any, is copied. */
  imageId: number;
  s3Key: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
}

/** A new output image of step `stepIndex` of job `jobId`, pointing at the file of `work`. */
export interface ReusedOutput {
  jobId: number;
  userId: number;
  sourceId: number;
  stepIndex: number;
  step: string;
  workKey: string;
  work: StoredWork;
}

/** A row of a work key's earliest images, as `storedWork` and JobRepository.claim read them. */
export interface StoredWorkRow {
  work_key: string;
  id: number;
  s3_key: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
}

/** The SQL of reusing earlier work: finding it, and recording new outputs that point at its files. */
@Injectable()
export class ReusableWorkRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * For each of `keys`, the files that earlier work with that key made, oldest first: at most a
   * few, since a file lost from storage (restored from an older backup, removed by hand) must not
   * stop the reuse of a copy made since, but more than a few lost means something else is wrong.
   * Only a key's earliest images are read (the index on (work_key, id)): its first computation
   * and the reuses pointing at it come first, so a popular photo's thousands of reuses are not all
   * read; a copy forced after that many reuses of an older file is left out.
   */
  async storedWork(keys: string[]): Promise<Map<string, StoredWork[]>> {
    const rows: StoredWorkRow[] = await this.dataSource.query(
      `SELECT keys.work_key, early.id, early.s3_key, early.format, early.width, early.height, early.bytes, early.sha256
         FROM unnest($1::bpchar[]) AS keys(work_key)
        CROSS JOIN LATERAL (
              SELECT id, s3_key, format, width, height, bytes, sha256 FROM images
               WHERE images.work_key = keys.work_key AND s3_key IS NOT NULL ORDER BY id LIMIT $2) early
        ORDER BY early.id`,
      [keys, EARLIEST_IMAGES_PER_KEY],
    );
    const byKey = new Map<string, StoredWorkRow[]>();
    for (const row of rows) {
      const early = byKey.get(row.work_key);
      if (early) early.push(row);
      else byKey.set(row.work_key, [row]);
    }
    return new Map([...byKey].map(([key, early]) => [key, storedWorkOf(early)]));
  }

  /**
   * Which of `imageIds` still exist, each locked (FOR KEY SHARE) until the transaction ends, so that
   * none can be deleted before the new outputs that copy or point at them are recorded.
   */
  async holdImages(manager: EntityManager, imageIds: number[]): Promise<Set<number>> {
    const rows: { id: number }[] = await manager.query('SELECT id FROM images WHERE id = ANY($1::int[]) ORDER BY id FOR KEY SHARE', [
      imageIds,
    ]);
    return new Set(rows.map((row) => row.id));
  }

  /**
   * Inserts the output images of `outputs`, with copies of their histograms and placeholders, in one statement
   * each; an image type deleted since the job was created is simply absent. Returns the new
   * images' ids, in the order of `outputs`.
   */
  async insertOutputs(manager: EntityManager, outputs: ReusedOutput[]): Promise<number[]> {
    const rows = outputs.map((output, ord) => ({
      ord,
      s3_key: output.work.s3Key,
      step: output.step,
      user_id: output.userId,
      original_id: output.sourceId,
      job_id: output.jobId,
      step_index: output.stepIndex,
      width: output.work.width,
      height: output.work.height,
      format: output.work.format,
      bytes: output.work.bytes,
      sha256: output.work.sha256,
      work_key: output.workKey,
      from_image_id: output.work.imageId,
    }));
    const inserted: { id: number }[] = await manager.query(
      `INSERT INTO images (status, s3_key, image_type_id, user_id, original_id, job_id, step_index, width, height, blurhash, dominant_color,
                           format, bytes, sha256, work_key)
       SELECT $2, r.s3_key, image_types.id, r.user_id, r.original_id, r.job_id, r.step_index, r.width, r.height, work.blurhash, work.dominant_color,
              r.format, r.bytes, r.sha256, r.work_key
         FROM jsonb_to_recordset($1::jsonb) AS r(ord integer, s3_key varchar, step varchar, user_id integer, original_id integer, job_id integer,
              step_index smallint, width integer, height integer, format varchar, bytes integer, sha256 char(64), work_key char(64),
              from_image_id integer)
         LEFT JOIN image_types ON image_types.type_name = r.step
         LEFT JOIN images work ON work.id = r.from_image_id
        ORDER BY r.ord
       RETURNING id`,
      [JSON.stringify(rows), IMAGE_STATUS.processed],
    );
    // Ids are drawn as the ordered rows are inserted, so id order is the order of `outputs`.
    const ids = inserted.map((row) => row.id).sort((a, b) => a - b);
    await manager.query(
      `INSERT INTO histograms (image_id, job_id, bins)
       SELECT r.image_id, r.job_id, histograms.bins
         FROM jsonb_to_recordset($1::jsonb) AS r(image_id integer, job_id integer, from_image_id integer)
         JOIN histograms ON histograms.image_id = r.from_image_id`,
      [
        JSON.stringify(
          outputs.map((output, index) => ({ image_id: ids[index], job_id: output.jobId, from_image_id: output.work.imageId })),
        ),
      ],
    );
    return ids;
  }
}

/** The first few distinct files of one work key's earliest images (`rows`, oldest first). */
export function storedWorkOf(rows: Omit<StoredWorkRow, 'work_key'>[]): StoredWork[] {
  const files: StoredWork[] = [];
  for (const row of rows) {
    if (files.length === FILES_PER_WORK_KEY) break;
    if (files.some((file) => file.s3Key === row.s3_key)) continue;
    files.push({
      imageId: row.id,
      s3Key: row.s3_key,
      format: row.format,
      width: row.width,
      height: row.height,
      bytes: Number(row.bytes),
      sha256: row.sha256,
    });
  }
  return files;
}
