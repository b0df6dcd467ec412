import type { PoolClient, QueryArrayConfig } from 'pg';
import { DataSource } from 'typeorm';
import { Selection } from '../common/selection/selection';

/** The selected histograms as typed arrays: 256 bins a row, with each row's image and user. */
export interface SelectedHistograms {
  count: number;
  rows: Int32Array;
  imageIds: Int32Array;
  userIds: Int32Array;
}

const BATCH = 20_000;
const ROW_BYTES = 256 * 4;

const FILTERS = `
  FROM histograms h
  JOIN images i ON i.id = h.image_id
  LEFT JOIN image_types t ON t.id = i.image_type_id
 WHERE ($1::timestamptz IS NULL OR i.created_at >= $1)
   AND ($2::integer IS NULL OR i.user_id = $2)
   AND ($3::text IS NULL OR t.type_name = $3)`;

/**
 * Reads the histograms a selection picks, newest first, inside one REPEATABLE READ transaction:
 * the result is exactly what the database held when the read began, however many histograms
 * arrive meanwhile. It counts them first, so the arrays are allocated once at their final size,
 * then reads keyset-paged batches of the packed bins (bytea, which node-pg turns into Buffers
 * natively), copying each row's 1 KB straight into place: no ORM entity, no array parsing.
 */
export async function readSelectedHistograms(dataSource: DataSource, selection: Selection): Promise<SelectedHistograms> {
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const filters = [selection.since, selection.userId, selection.imageType];
    const [{ total }] = (await client.query(`SELECT count(*)::integer AS total ${FILTERS}`, filters)).rows;
    const count = selection.limit === null ? total : Math.min(total, selection.limit);
    const rows = new Int32Array(count * 256);
    const bytes = Buffer.from(rows.buffer);
    const imageIds = new Int32Array(count);
    const userIds = new Int32Array(count);
    let read = 0;
    let after: [string, number] | [null, null] = [null, null];
    while (read < count) {
      const page: QueryArrayConfig = {
        text: `SELECT i.id, i.user_id, i.created_at::text, h.bins_packed ${FILTERS}
                 AND ($4::timestamptz IS NULL OR (i.created_at, i.id) < ($4::timestamptz, $5::integer))
               ORDER BY i.created_at DESC, i.id DESC
               LIMIT $6`,
        values: [...filters, ...after, Math.min(BATCH, count - read)],
        rowMode: 'array',
      };
      const batch = await client.query<[number, number, string, Buffer]>(page);
      if (batch.rows.length === 0) break;
      for (const [imageId, userId, , packed] of batch.rows) {
        packed.copy(bytes, read * ROW_BYTES);
        imageIds[read] = imageId;
        userIds[read] = userId;
        read++;
      }
      // The timestamp travels as text: a JavaScript Date would drop its microseconds.
      const last = batch.rows[batch.rows.length - 1];
      after = [last[2], last[0]];
    }
    await client.query('COMMIT');
    // Packed big-endian, as int4send writes; this machine's Int32Array is little-endian.
    if (new Uint8Array(new Uint32Array([1]).buffer)[0] === 1) bytes.subarray(0, read * ROW_BYTES).swap32();
    return { count: read, rows: rows.subarray(0, read * 256), imageIds: imageIds.subarray(0, read), userIds: userIds.subarray(0, read) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
  }
}
