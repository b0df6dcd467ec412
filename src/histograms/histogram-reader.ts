import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { Selection } from '../pipelines/selection';
import { BinaryCopyParser, consumeCopy } from './binary-copy-parser';
import { HistogramStore, SelectedHistograms } from './histogram-store';

export const ROW_BYTES = 256 * 4;

/**
 * The columns the store keeps of a histogram, from `histograms h` joined to `images i`: its id,
 * its image's id, owner and type, the image's created_at in whole microseconds (as PostgreSQL
 * keeps it, so that a limit orders exactly as SQL would), and its 256 bins packed big-endian.
 */
export const STORED_COLUMNS = `h.id, h.image_id, i.user_id, i.image_type_id,
  (extract(epoch FROM i.created_at) * 1000000)::int8, h.bins_packed`;

/** The conditions a selection puts on images, named `i`. */
export function imageConditions(client: PoolClient, selection: Selection): string {
  // COPY takes no bind parameters: the selection's values are written as escaped literals.
  return `TRUE
       ${selection.since ? `AND i.created_at >= ${client.escapeLiteral(selection.since.toISOString())}::timestamptz` : ''}
       ${selection.userId !== null ? `AND i.user_id = ${Number(selection.userId)}` : ''}
       ${selection.imageType !== null ? `AND i.image_type_id = (SELECT id FROM image_types WHERE type_name = ${client.escapeLiteral(selection.imageType)})` : ''}`;
}

/** Runs `COPY (query) TO STDOUT (FORMAT binary)` through `parser`. */
export async function copyRows(client: PoolClient, query: string, parser: BinaryCopyParser): Promise<void> {
  await consumeCopy(client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`)), (chunk) => parser.push(chunk));
  parser.finish();
}

/** A parser of rows of STORED_COLUMNS that puts each into `store`. */
export function storedRowParser(store: HistogramStore): BinaryCopyParser {
  // Each field's value follows its 4-byte length: four int4s at 0, 8, 16 and 24, the int8 at 32, the bins at 44.
  return new BinaryCopyParser(
    [4, 4, 4, 4, 8, ROW_BYTES],
    (data, at) =>
      store.putPacked(
        {
          histogramId: data.readInt32BE(at),
          imageId: data.readInt32BE(at + 8),
          userId: data.readInt32BE(at + 16),
          imageTypeId: data.readInt32BE(at + 24),
          createdMicros: Number(data.readBigInt64BE(at + 32)),
        },
        data,
        at + 44,
      ),
    '(histogram id, image id, user id, image type id, created_at in µs, 1 KB of bins)',
  );
}

/** Puts the rows of STORED_COLUMNS that `from` (a FROM … WHERE over `histograms h` and `images i`) picks into `store`. */
export function copyHistogramsInto(client: PoolClient, from: string, store: HistogramStore): Promise<void> {
  return copyRows(client, `SELECT ${STORED_COLUMNS} ${from}`, storedRowParser(store));
}

/**
 * Reads the histograms a selection picks (the newest n when it limits them) in one statement, so
 * from one snapshot, into a store of their own: what a job reduces when the worker keeps no copy.
 * Rows stream in a binary COPY straight into the tiles: no ORM entity, no row objects, no text.
 */
export async function readSelectedHistograms(client: PoolClient, selection: Selection): Promise<SelectedHistograms> {
  const store = new HistogramStore();
  const filtered = `FROM histograms h JOIN images i ON i.id = h.image_id WHERE ${imageConditions(client, selection)}`;
  // Order matters only to pick the newest n: all-histogram reads stream unsorted, and limited
  // ones sort the keys, not 1 KB payloads.
  await copyHistogramsInto(
    client,
    selection.limit === null
      ? filtered
      : `FROM (SELECT i.* ${filtered} ORDER BY i.created_at DESC, i.id DESC LIMIT ${Number(selection.limit)}) i
           JOIN histograms h ON h.image_id = i.id`,
    store,
  );
  return store.select({ userId: null, imageTypeId: null, sinceMicros: null, limit: null });
}
