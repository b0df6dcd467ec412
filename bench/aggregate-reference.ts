import type { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/**
 * The bench's own answers to its median and search jobs, computed from the database without the
 * product's readers or reducers, so that a wrong answer from the product shows as a mismatch.
 * The bins are held column by column (one Int32Array per bin, ~1 GB at a million histograms):
 * a column sorts in place for its median, and a row's distance still adds its bins in bin order.
 */
export interface Neighbour {
  user_id: number;
  image_id: number;
  distance: number;
}

export interface Reference {
  /** Histograms of images of type `histogram`: what the median job selects. */
  medianCount: number;
  median: number[];
  /** Every histogram: what the search job selects. */
  searchCount: number;
  neighbours: Neighbour[];
}

const BINS = 256;
const ROW_BYTES = BINS * 4;
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Four fields: image id, user id, whether the image is of type `histogram`, the packed bins. */
const FIELD_LENGTHS = [4, 4, 1, ROW_BYTES];
/** A row's field count, then each field's length and value. */
const COPY_ROW_BYTES = 2 + FIELD_LENGTHS.reduce((total, length) => total + 4 + length, 0);

interface Columns {
  count: number;
  imageIds: Int32Array;
  userIds: Int32Array;
  isHistogramType: Uint8Array;
  bins: Int32Array[];
}

/** Reads every histogram in one snapshot and answers the median job's and the search job's results. */
export async function computeReference(db: Client, targetImageId: number, excludeUserId: number, k: number): Promise<Reference> {
  const columns = await readColumns(db);
  const neighbours = nearestNeighbours(columns, targetImageId, excludeUserId, k);
  const medianRows = columns.isHistogramType.reduce((total, flag) => total + flag, 0);
  return { medianCount: medianRows, median: medianOfColumns(columns), searchCount: columns.count, neighbours };
}

async function readColumns(db: Client): Promise<Columns> {
  await db.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    const [{ count }] = (await db.query('SELECT count(*)::int AS count FROM histograms')).rows;
    const columns: Columns = {
      count,
      imageIds: new Int32Array(count),
      userIds: new Int32Array(count),
      isHistogramType: new Uint8Array(count),
      bins: Array.from({ length: BINS }, () => new Int32Array(count)),
    };
    const read = await copyRowsInto(
      db,
      `SELECT h.image_id, i.user_id, i.image_type_id = (SELECT id FROM image_types WHERE type_name = 'histogram'), h.bins_packed
         FROM histograms h JOIN images i ON i.id = h.image_id`,
      columns,
    );
    if (read !== count) throw new Error(`The reference read ${read} histograms of ${count}`);
    await db.query('COMMIT');
    return columns;
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
}

/** Streams a binary COPY of `query` into `columns`, answering how many rows it read. */
async function copyRowsInto(db: Client, query: string, columns: Columns): Promise<number> {
  const stream = db.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
  let pending: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  let headerRead = false;
  let row = 0;
  let ended = false;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    if (!headerRead) {
      if (pending.length < COPY_SIGNATURE.length + 8) continue;
      if (!pending.subarray(0, COPY_SIGNATURE.length).equals(COPY_SIGNATURE)) throw new Error('Not a binary COPY stream');
      at = COPY_SIGNATURE.length + 8 + pending.readInt32BE(COPY_SIGNATURE.length + 4);
      headerRead = true;
    }
    for (;;) {
      if (pending.length - at < 2) break;
      const fields = pending.readInt16BE(at);
      if (fields === -1) {
        ended = true;
        at += 2;
        break;
      }
      if (pending.length - at < COPY_ROW_BYTES) break;
      if (fields !== FIELD_LENGTHS.length) throw new Error(`A COPY row of ${fields} fields`);
      let field = at + 2;
      for (const length of FIELD_LENGTHS) {
        if (pending.readInt32BE(field) !== length) throw new Error(`A COPY field of ${pending.readInt32BE(field)} bytes, not ${length}`);
        field += 4 + length;
      }
      if (row === columns.count) throw new Error('The COPY sent more rows than the count');
      columns.imageIds[row] = pending.readInt32BE(at + 6);
      columns.userIds[row] = pending.readInt32BE(at + 14);
      columns.isHistogramType[row] = pending[at + 22];
      const binsAt = at + 27;
      for (let bin = 0; bin < BINS; bin++) columns.bins[bin][row] = pending.readInt32BE(binsAt + bin * 4);
      row++;
      at += COPY_ROW_BYTES;
    }
    pending = pending.subarray(at);
  }
  if (!ended) throw new Error('The COPY stream ended without its trailer');
  return row;
}

/**
 * numpy's median of each bin over the histograms of type `histogram`: the middle value of the
 * sorted column, or the mean of the two middle ones for an even count. Sorts the columns in
 * place, so it comes after every other use of them.
 */
function medianOfColumns({ bins, isHistogramType }: Columns): number[] {
  const all = isHistogramType.every((flag) => flag === 1);
  return bins.map((column) => {
    const values = all ? column : column.filter((_, row) => isHistogramType[row] === 1);
    values.sort();
    const n = values.length;
    return n === 0 ? NaN : (values[(n - 1) >> 1] + values[n >> 1]) / 2;
  });
}

/**
 * The `k` users other than `excludeUserId` nearest the target histogram, as scikit-learn's
 * NearestNeighbors would find them over histograms scaled to sum 1 (an all-zero histogram stays
 * zero), each user at their closest histogram, equal distances ordered by image id.
 */
function nearestNeighbours(columns: Columns, targetImageId: number, excludeUserId: number, k: number): Neighbour[] {
  const { count, bins, userIds, imageIds } = columns;
  const targetRow = imageIds.indexOf(targetImageId);
  if (targetRow < 0) throw new Error(`The target histogram ${targetImageId} is not in the database`);
  const target = bins.map((column) => column[targetRow]);
  const targetSum = target.reduce((total, value) => total + value, 0) || 1;
  const sums = new Float64Array(count);
  for (const column of bins) for (let row = 0; row < count; row++) sums[row] += column[row];
  const scales = sums.map((sum) => (sum === 0 ? 0 : 1 / sum));
  const squared = new Float64Array(count);
  bins.forEach((column, bin) => {
    const targetValue = target[bin] / targetSum;
    for (let row = 0; row < count; row++) {
      const difference = column[row] * scales[row] - targetValue;
      squared[row] += difference * difference;
    }
  });
  const closestRowOfUser = new Map<number, number>();
  for (let row = 0; row < count; row++) {
    if (userIds[row] === excludeUserId) continue;
    const closest = closestRowOfUser.get(userIds[row]);
    if (closest === undefined || precedes(row, closest)) closestRowOfUser.set(userIds[row], row);
  }
  function precedes(a: number, b: number): boolean {
    return squared[a] < squared[b] || (squared[a] === squared[b] && imageIds[a] < imageIds[b]);
  }
  return [...closestRowOfUser.values()]
    .sort((a, b) => (precedes(a, b) ? -1 : precedes(b, a) ? 1 : 0))
    .slice(0, k)
    .map((row) => ({ user_id: userIds[row], image_id: imageIds[row], distance: Math.sqrt(squared[row]) }));
}

/** Distances agree when they differ by no more than rounding in a different order of operations. */
const DISTANCE_TOLERANCE = 1e-12;

/** 'exact', or the first way a median job's result differs from the reference. */
export function compareMedian(result: { count: number; median: number[] }, reference: Reference): string {
  if (result.count !== reference.medianCount) return `median over ${result.count} histograms, reference ${reference.medianCount}`;
  if (result.median.length !== reference.median.length)
    return `median of ${result.median.length} bins, reference ${reference.median.length}`;
  const bin = reference.median.findIndex((value, index) => result.median[index] !== value);
  return bin < 0 ? 'exact' : `median bin ${bin} is ${result.median[bin]}, reference ${reference.median[bin]}`;
}

/** 'exact', or the first way a search job's result differs from the reference. */
export function compareNeighbours(result: { count: number; neighbors: Neighbour[] }, reference: Reference): string {
  if (result.count !== reference.searchCount) return `search over ${result.count} histograms, reference ${reference.searchCount}`;
  const expected = reference.neighbours;
  for (let rank = 0; rank < Math.max(expected.length, result.neighbors.length); rank++) {
    const got = result.neighbors[rank];
    const want = expected[rank];
    if (!got || !want) return `${result.neighbors.length} neighbours, reference ${expected.length}`;
    if (got.user_id !== want.user_id || got.image_id !== want.image_id || Math.abs(got.distance - want.distance) > DISTANCE_TOLERANCE) {
      return `neighbour ${rank + 1} is user ${got.user_id} (image ${got.image_id}, ${got.distance}), reference user ${want.user_id} (image ${want.image_id}, ${want.distance})`;
    }
  }
  return 'exact';
}
