import { DataSource } from 'typeorm';
import { Selection } from '../common/selection/selection';

/** The selected histograms as typed arrays: 256 bins a row, with each row's image and user. */
export interface SelectedHistograms {
  count: number;
  rows: Int32Array;
  imageIds: Int32Array;
  userIds: Int32Array;
}

const BATCH = 5000;

/**
 * Reads the histograms a selection picks, newest first, in keyset-paged batches inside one
 * REPEATABLE READ transaction: the result is exactly what the database held when the read began,
 * however many histograms arrive meanwhile, and no ORM entity is ever built for a row.
 */
export async function readSelectedHistograms(dataSource: DataSource, selection: Selection): Promise<SelectedHistograms> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  let capacity = 1024;
  let rows: Int32Array = new Int32Array(capacity * 256);
  let imageIds: Int32Array = new Int32Array(capacity);
  let userIds: Int32Array = new Int32Array(capacity);
  let count = 0;
  try {
    await runner.startTransaction('REPEATABLE READ');
    let after: { createdAt: string; id: number } | null = null;
    for (;;) {
      const wanted = selection.limit === null ? BATCH : Math.min(BATCH, selection.limit - count);
      if (wanted <= 0) break;
      const batch: { image_id: number; user_id: number; created_at: string; bins: number[] }[] = await runner.query(
        `SELECT i.id AS image_id, i.user_id, i.created_at::text AS created_at, h.bins
           FROM histograms h
           JOIN images i ON i.id = h.image_id
           LEFT JOIN image_types t ON t.id = i.image_type_id
          WHERE ($1::timestamptz IS NULL OR i.created_at >= $1)
            AND ($2::integer IS NULL OR i.user_id = $2)
            AND ($3::text IS NULL OR t.type_name = $3)
            AND ($4::timestamptz IS NULL OR (i.created_at, i.id) < ($4::timestamptz, $5::integer))
          ORDER BY i.created_at DESC, i.id DESC
          LIMIT $6`,
        [selection.since, selection.userId, selection.imageType, after?.createdAt ?? null, after?.id ?? null, wanted],
      );
      for (const row of batch) {
        if (count === capacity) {
          capacity *= 2;
          rows = grow(rows, capacity * 256);
          imageIds = grow(imageIds, capacity);
          userIds = grow(userIds, capacity);
        }
        rows.set(row.bins, count * 256);
        imageIds[count] = row.image_id;
        userIds[count] = row.user_id;
        count++;
      }
      if (batch.length < wanted) break;
      // The timestamp travels as text: a JavaScript Date would drop its microseconds.
      after = { createdAt: batch[batch.length - 1].created_at, id: batch[batch.length - 1].image_id };
    }
    await runner.commitTransaction();
  } finally {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    await runner.release();
  }
  return { count, rows: rows.slice(0, count * 256), imageIds: imageIds.slice(0, count), userIds: userIds.slice(0, count) };
}

function grow(array: Int32Array, length: number): Int32Array {
  const larger = new Int32Array(length);
  larger.set(array);
  return larger;
}
