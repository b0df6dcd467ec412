import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { Selection } from '../pipelines/selection';

/** An image as the API shows it, read in one statement: no entity, no ORM hydration. */
export interface ImageRow {
  id: number;
  status: string;
  s3_key: string | null;
  image_type: string | null;
  image_type_id: number | null;
  user_id: number;
  original_id: number | null;
  width: number | null;
  height: number | null;
  format: string | null;
  bytes: number | null;
  sha256: string | null;
  job_id: number | null;
  /** The 256 bins of a histogram image, when asked for; null otherwise. */
  histogram: number[] | null;
  created_at: Date;
  updated_at: Date;
}

/** Rows a cursor hands over at a time: under a megabyte with bins, whatever the list's length. */
const CURSOR_BATCH = 500;

/**
 * The columns of an ImageRow. The bins come from a subquery rather than a join so that PostgreSQL
 * looks them up row by row as the rows go out, and a list without them never touches histograms.
 */
function columns(withHistogram: boolean): string {
  return `i.id, i.status, i.s3_key, t.type_name AS image_type, i.image_type_id, i.user_id, i.original_id,
          i.width, i.height, i.format, i.bytes, i.sha256, i.job_id,
          ${withHistogram ? '(SELECT h.bins FROM histograms h WHERE h.image_id = i.id)' : 'NULL::integer[]'} AS histogram,
          i.created_at, i.updated_at
     FROM images i LEFT JOIN image_types t ON t.id = i.image_type_id`;
}

/** The statement of an index: newest first, or in id order after `afterId` for clients that page. */
function listStatement(selection: Selection): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const conditions: string[] = [];
  const bind = (value: unknown) => `$${values.push(value)}`;
  if (selection.since) conditions.push(`i.created_at >= ${bind(selection.since)}`);
  if (selection.userId !== null) conditions.push(`i.user_id = ${bind(selection.userId)}`);
  if (selection.imageType !== null) conditions.push(`t.type_name = ${bind(selection.imageType)}`);
  if (selection.afterId !== null) conditions.push(`i.id > ${bind(selection.afterId)}`);
  const text = `SELECT ${columns(selection.include.includes('histogram'))}
    ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
    ORDER BY ${selection.afterId !== null ? 'i.id' : 'i.created_at DESC, i.id DESC'}
    ${selection.limit !== null ? `LIMIT ${bind(selection.limit)}` : ''}`;
  return { text, values };
}

/** The reads of images as the API lists and shows them. */
@Injectable()
export class ImageRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One image with its type's name and, for a histogram image, its bins. */
  async findRow(id: number): Promise<ImageRow | null> {
    const rows: ImageRow[] = await this.dataSource.query(`SELECT ${columns(true)} WHERE i.id = $1`, [id]);
    return rows[0] ?? null;
  }

  /** A bounded list (`selection.limit` set), read at once. */
  list(selection: Selection): Promise<ImageRow[]> {
    const { text, values } = listStatement(selection);
    return this.dataSource.query(text, values);
  }

  /**
   * Every row a selection picks, in batches from a cursor, so that memory stays flat however many
   * there are. The first batch is read before this resolves: a statement that fails, fails here.
   * Ending the iteration early (the client went away) closes the cursor and gives the connection
   * back; a connection that failed is discarded rather than pooled.
   */
  async stream(selection: Selection): Promise<AsyncGenerator<ImageRow[]>> {
    const { text, values } = listStatement(selection);
    const [client, release] = (await (this.dataSource.driver as PostgresDriver).obtainMasterConnection()) as [PoolClient, (error?: unknown) => void];
    // A broken connection also fails the statement in flight; this only keeps the event from
    // crashing the process, since a checked-out client has no other listener.
    const ignore = () => undefined;
    client.on('error', ignore);
    const batches = (async function* () {
      let failure: unknown;
      try {
        // A declared cursor, rather than a portal read a batch at a time: PostgreSQL plans it for
        // its first rows, and each FETCH is an ordinary statement that fails if the connection does.
        await client.query('BEGIN READ ONLY');
        await client.query(`DECLARE image_list NO SCROLL CURSOR FOR ${text}`, values);
        for (;;) {
          const { rows } = await client.query<ImageRow>(`FETCH ${CURSOR_BATCH} FROM image_list`);
          if (rows.length > 0) yield rows;
          if (rows.length < CURSOR_BATCH) return;
        }
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        if (failure === undefined) await client.query('ROLLBACK').catch((error: unknown) => (failure = error));
        client.removeListener('error', ignore);
        release(failure);
      }
    })();
    const first = await batches.next();
    return (async function* () {
      if (first.done) return;
      yield first.value;
      yield* batches;
    })();
  }
}
