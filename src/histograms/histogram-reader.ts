import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { Selection } from '../common/selection/selection';

/** The selected histograms as typed arrays: 256 bins a row, with each row's image and user. */
export interface SelectedHistograms {
  count: number;
  rows: Int32Array;
  imageIds: Int32Array;
  userIds: Int32Array;
}

const ROW_BYTES = 256 * 4;
// PGCOPY signature (11 bytes), flags (4), header extension length (4).
const COPY_HEADER_BYTES = 19;
// Field count (2), then image id, user id and packed bins, each a 4-byte length and its bytes.
const TUPLE_BYTES = 2 + (4 + 4) + (4 + 4) + (4 + ROW_BYTES);

/**
 * Reads the histograms a selection picks (the newest n when it limits them) in one REPEATABLE
 * READ transaction: the result is exactly what the database held when the read began, however
 * many histograms arrive meanwhile. It counts them first, so the arrays are allocated once at their final size,
 * then streams the packed bins with a binary COPY and copies each row's 1 KB straight into place:
 * no ORM entity, no row objects, no text. Rows come in no particular order.
 */
export async function readSelectedHistograms(dataSource: DataSource, selection: Selection): Promise<SelectedHistograms> {
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // COPY takes no bind parameters: the selection's values are written as escaped literals.
    const filters = `
      FROM histograms h
      JOIN images i ON i.id = h.image_id
     WHERE TRUE
       ${selection.since ? `AND i.created_at >= ${client.escapeLiteral(selection.since.toISOString())}::timestamptz` : ''}
       ${selection.userId !== null ? `AND i.user_id = ${Number(selection.userId)}` : ''}
       ${selection.imageType !== null ? `AND i.image_type_id = (SELECT id FROM image_types WHERE type_name = ${client.escapeLiteral(selection.imageType)})` : ''}`;
    const [{ total }] = (await client.query(`SELECT count(*)::integer AS total ${filters}`)).rows;
    const count = selection.limit === null ? total : Math.min(total, selection.limit);
    const selected = {
      count,
      rows: new Int32Array(count * 256),
      imageIds: new Int32Array(count),
      userIds: new Int32Array(count),
    };
    // Order matters only to pick the newest n; the reducers' results do not depend on it. So
    // all-histogram reads stream unsorted, and limited ones sort the keys, not 1 KB payloads.
    const chosen =
      selection.limit === null
        ? `SELECT i.id, i.user_id, h.bins_packed ${filters}`
        : `SELECT chosen.id, chosen.user_id, packed.bins_packed
             FROM (SELECT i.id, i.user_id ${filters} ORDER BY i.created_at DESC, i.id DESC LIMIT ${count}) chosen
             JOIN histograms packed ON packed.image_id = chosen.id`;
    const stream = client.query(copyTo(`COPY (${chosen}) TO STDOUT (FORMAT binary)`));
    const read = await unpackCopy(stream, selected);
    await client.query('COMMIT');
    return { ...selected, count: read };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await runner.release();
  }
}

/** Parses a binary COPY of (int4, int4, bytea[1024]) tuples into the arrays; returns how many. */
async function unpackCopy(stream: AsyncIterable<Buffer>, into: Omit<SelectedHistograms, 'count'> & { count: number }): Promise<number> {
  const bytes = Buffer.from(into.rows.buffer, into.rows.byteOffset, into.rows.byteLength);
  let pending: Buffer = Buffer.alloc(0);
  let headerRead = false;
  let read = 0;
  for await (const chunk of stream) {
    const data: Buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let offset = 0;
    if (!headerRead) {
      if (data.length < COPY_HEADER_BYTES) {
        pending = data;
        continue;
      }
      offset = COPY_HEADER_BYTES + data.readUInt32BE(15);
      headerRead = true;
    }
    while (data.length - offset >= 2 && data.readInt16BE(offset) === 3 && data.length - offset >= TUPLE_BYTES) {
      into.imageIds[read] = data.readInt32BE(offset + 6);
      into.userIds[read] = data.readInt32BE(offset + 14);
      data.copy(bytes, read * ROW_BYTES, offset + 22, offset + 22 + ROW_BYTES);
      read++;
      offset += TUPLE_BYTES;
    }
    pending = data.subarray(offset);
  }
  // Packed big-endian, as int4send writes; this machine's Int32Array is little-endian.
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] === 1) bytes.subarray(0, read * ROW_BYTES).swap32();
  return read;
}
