import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import type { StoredFileColumns } from '../images/image-files.service';

/**
 * A claim on a derivative whose creator has been silent this long was abandoned (its process died
 * between the claim and the job's creation, which takes milliseconds): another request takes it over.
 */
const ABANDONED_CLAIM_SECONDS = 30;

/** What the derivatives table says of an image's derivative. */
export type DerivativeEntry =
  /** The job that makes or made it, and the step of that job whose output is its file. */
  | { kind: 'job'; jobId: number; outputStep: number | null }
  /** This request holds the claim: it creates the job, then settles or releases the claim. */
  | { kind: 'claimed'; claim: string }
  /** Another request holds the claim and is creating the job. */
  | { kind: 'claimed_elsewhere' };

/** A claim on a derivative, to be settled with the job created under it and the step of that job making its file. */
export interface SettledClaim {
  stepsKey: string;
  claim: string;
  outputStep: number;
}

/** An image as a derivative's request first reads it, with the derivative's file if it is made. */
export interface MadeDerivative {
  ownerId: number;
  stored: boolean;
  /** The output of the derivative's step (its row's output_step, else the last) of its completed job. */
  output: (StoredFileColumns & { typeName: string | null }) | null;
}

/**
 * The derivatives table: which job makes an image's derivative, by the hash of its resolved steps,
 * and which step of that job makes its file (a job of branches makes several derivatives). Its
 * primary key decides, in PostgreSQL, which of concurrent first requests creates the job, on
 * whichever API process each arrives. An output is one step's, once and for all (the unique
 * job_id and step_index of images), so the step names the file without ambiguity, and a deleted
 * output leaves the derivative unmade.
 */
@Injectable()
export class DerivativesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Image `imageId`'s owner and whether it has its file, and, when the derivative of `stepsKey` is
   * made, its file: what a request for a made derivative needs, in one statement (null: no image).
   */
  async made(imageId: number, stepsKey: string): Promise<MadeDerivative | null> {
    const [row] = (await this.dataSource.query(
      `SELECT i.user_id, i.s3_key IS NOT NULL AS stored, o.id, o.s3_key, o.bytes, o.format, o.sha256, o.file_stored_at, t.type_name
         FROM images i
         LEFT JOIN derivatives d ON d.image_id = i.id AND d.steps_key = $2
         LEFT JOIN jobs j ON j.id = d.job_id AND j.status = 'completed'
         LEFT JOIN images o ON o.job_id = j.id AND o.step_index = COALESCE(d.output_step, cardinality(j.job_type) - 2)
         LEFT JOIN image_types t ON t.id = o.image_type_id
        WHERE i.id = $1`,
      [imageId, stepsKey],
    )) as {
      user_id: number;
      stored: boolean;
      id: number | null;
      s3_key: string | null;
      bytes: number | null;
      format: string | null;
      sha256: string | null;
      file_stored_at: Date | null;
      type_name: string | null;
    }[];
    if (!row) return null;
    return {
      ownerId: row.user_id,
      stored: row.stored,
      output:
        row.id === null
          ? null
          : {
              id: row.id,
              s3Key: row.s3_key,
              bytes: row.bytes,
              format: row.format,
              sha256: row.sha256,
              fileStoredAt: row.file_stored_at,
              typeName: row.type_name,
            },
    };
  }

  /** The id of job `jobId`'s output of step `stepIndex`; null when there is none (deleted, or not recorded). */
  async outputOf(jobId: number, stepIndex: number): Promise<number | null> {
    const [row] = (await this.dataSource.query('SELECT id FROM images WHERE job_id = $1 AND step_index = $2', [jobId, stepIndex])) as {
      id: number;
    }[];
    return row?.id ?? null;
  }

  /** The images the jobs of image `imageId`'s derivatives made: they go with it when it is deleted. */
  async imagesOf(manager: EntityManager, imageId: number): Promise<number[]> {
    const rows = (await manager.query(
      `SELECT i.id FROM derivatives d JOIN images i ON i.job_id = d.job_id WHERE d.image_id = $1 ORDER BY i.id`,
      [imageId],
    )) as { id: number }[];
    return rows.map((row) => row.id);
  }

  /**
   * The derivative's job, or else a claim on creating it: the row is inserted, or an abandoned
   * claim taken over, in one statement. A concurrent insert of the same key waits for the other's
   * commit and then loses; the row it lost to is read by the next statement.
   */
  async jobOrClaim(imageId: number, stepsKey: string): Promise<DerivativeEntry> {
    const found = await this.find(imageId, stepsKey);
    if (found?.kind === 'job') return found;
    const claim = randomUUID();
    const claimed: unknown[] = await this.dataSource.query(
      `INSERT INTO derivatives (image_id, steps_key, claim) VALUES ($1, $2, $3)
       ON CONFLICT (image_id, steps_key) DO UPDATE SET claim = EXCLUDED.claim, claimed_at = now()
        WHERE derivatives.job_id IS NULL AND derivatives.claimed_at < now() - make_interval(secs => $4)
       RETURNING 1`,
      [imageId, stepsKey, claim, ABANDONED_CLAIM_SECONDS],
    );
    if (claimed.length > 0) return { kind: 'claimed', claim };
    return (await this.find(imageId, stepsKey)) ?? { kind: 'claimed_elsewhere' };
  }

  /** The derivative's job as the table has it now; null when there is no row (or it went with its image or job). */
  async find(imageId: number, stepsKey: string): Promise<DerivativeEntry | null> {
    const [row] = (await this.dataSource.query('SELECT job_id, output_step FROM derivatives WHERE image_id = $1 AND steps_key = $2', [
      imageId,
      stepsKey,
    ])) as { job_id: number | null; output_step: number | null }[];
    if (!row) return null;
    return row.job_id === null ? { kind: 'claimed_elsewhere' } : { kind: 'job', jobId: row.job_id, outputStep: row.output_step };
  }

  /**
   * A claim on making the derivative again, in place of `jobId` (failed, cancelled, or its output
   * deleted); null when another request replaced it first.
   */
  async reclaim(imageId: number, stepsKey: string, jobId: number): Promise<string | null> {
    const claim = randomUUID();
    const claimed: unknown[] = await this.dataSource.query(
      `UPDATE derivatives SET job_id = NULL, claim = $4, claimed_at = now()
        WHERE image_id = $1 AND steps_key = $2 AND job_id = $3
       RETURNING 1`,
      [imageId, stepsKey, jobId, claim],
    );
    return claimed.length > 0 ? claim : null;
  }

  /**
   * Records the job the claims' holder created and the step making each derivative, in one
   * statement (a claim taken over meanwhile keeps its own).
   */
  async settle(imageId: number, jobId: number, settled: SettledClaim[]): Promise<void> {
    await this.dataSource.query(
      `UPDATE derivatives d SET job_id = $2, output_step = s.output_step, claim = NULL
         FROM unnest($3::varchar[], $4::uuid[], $5::smallint[]) AS s(steps_key, claim, output_step)
        WHERE d.image_id = $1 AND d.steps_key = s.steps_key AND d.claim = s.claim AND d.job_id IS NULL`,
      [
        imageId,
        jobId,
        settled.map((entry) => entry.stepsKey),
        settled.map((entry) => entry.claim),
        settled.map((entry) => entry.outputStep),
      ],
    );
  }

  /** Gives up a claim whose job could not be created, so that the next request tries afresh. */
  async release(imageId: number, stepsKey: string, claim: string): Promise<void> {
    await this.dataSource.query('DELETE FROM derivatives WHERE image_id = $1 AND steps_key = $2 AND claim = $3 AND job_id IS NULL', [
      imageId,
      stepsKey,
      claim,
    ]);
  }
}
