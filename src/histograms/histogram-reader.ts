import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { Selection } from '../pipelines/selection';
import { BinaryCopyParser, consumeCopy } from './binary-copy-parser';
import type { HistogramBlockPool } from './histogram-block-pool';

/**
 * Histograms in shared memory, which several threads can reduce where they lie: a block of rows
 * of 256 bins in `bins`, of which `count` are taken — rows 0 to count - 1, or the rows `rows`
 * names — each with its image and user in `imageIds` and `userIds`.
 */
export interface HistogramBlock {
  count: number;
  bins: Int32Array;
  rows: Int32Array | null;
  imageIds: Int32Array;
  userIds: Int32Array;
}

export interface SelectedHistograms {
  count: number;
  blocks: HistogramBlock[];
}

export const ROW_BYTES = 256 * 4;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Copies rows of 1 KB of big-endian bins (as PostgreSQL's int4send packs them) with their image
 * and user ids into blocks, after the rows a block already holds; blocks come from `nextBlock`
 * when one is full. The bins are put in this machine's byte order once a block is done with.
 */
export class HistogramBlockWriter {
  readonly opened: HistogramBlock[] = [];
  private bytes: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  private firstNewRow = 0;

  constructor(
    private readonly nextBlock: () => HistogramBlock,
    private block: HistogramBlock | null = null,
  ) {
    if (block) this.resume(block);
  }

  append(data: Buffer, imageIdAt: number, userIdAt: number | null, binsAt: number): void {
    let block = this.block;
    if (!block || block.count === block.imageIds.length) {
      this.seal();
      block = this.nextBlock();
      this.opened.push(block);
      this.resume(block);
    }
    block.imageIds[block.count] = data.readInt32BE(imageIdAt);
    if (userIdAt !== null) block.userIds[block.count] = data.readInt32BE(userIdAt);
    data.copy(this.bytes, block.count * ROW_BYTES, binsAt, binsAt + ROW_BYTES);
    block.count++;
  }

  seal(): void {
    const block = this.block;
    if (block && LITTLE_ENDIAN) this.bytes.subarray(this.firstNewRow * ROW_BYTES, block.count * ROW_BYTES).swap32();
    this.block = null;
  }

  private resume(block: HistogramBlock): void {
    this.block = block;
    this.bytes = Buffer.from(block.bins.buffer, block.bins.byteOffset, block.bins.byteLength);
    this.firstNewRow = block.count;
  }
}

/** The conditions a selection puts on images, named `i`. */
export function imageConditions(client: PoolClient, selection: Selection): string {
  // COPY takes no bind parameters: the selection's values are written as escaped literals.
  return `TRUE
       ${selection.since ? `AND i.created_at >= ${client.escapeLiteral(selection.since.toISOString())}::timestamptz` : ''}
       ${selection.userId !== null ? `AND i.user_id = ${Number(selection.userId)}` : ''}
       ${selection.imageType !== null ? `AND i.image_type_id = (SELECT id FROM image_types WHERE type_name = ${client.escapeLiteral(selection.imageType)})` : ''}`;
}

/** The FROM and WHERE of the histograms a selection picks, joined to their images as `i`. */
export function selectionFilters(client: PoolClient, selection: Selection): string {
  return `FROM histograms h JOIN images i ON i.id = h.image_id WHERE ${imageConditions(client, selection)}`;
}

/** Runs `COPY (query) TO STDOUT (FORMAT binary)` through `parser`. */
export async function copyRows(client: PoolClient, query: string, parser: BinaryCopyParser): Promise<void> {
  await consumeCopy(client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`)), (chunk) => parser.push(chunk));
  parser.finish();
}

/**
 * Reads the histograms a selection picks (the newest n when it limits them) in one statement, so
 * from one snapshot, into blocks from the pool. The packed bins stream in a binary COPY and each
 * row's 1 KB is copied straight into place: no ORM entity, no row objects, no text, and no count
 * beforehand. Rows come in no particular order. The caller gives the blocks back to the pool.
 */
export async function readSelectedHistograms(
  client: PoolClient,
  selection: Selection,
  pool: HistogramBlockPool,
): Promise<SelectedHistograms> {
  const filters = selectionFilters(client, selection);
  // Order matters only to pick the newest n; the reducers' results do not depend on it. So
  // all-histogram reads stream unsorted, and limited ones sort the keys, not 1 KB payloads.
  const chosen =
    selection.limit === null
      ? `SELECT i.id, i.user_id, h.bins_packed ${filters}`
      : `SELECT chosen.id, chosen.user_id, packed.bins_packed
           FROM (SELECT i.id, i.user_id ${filters} ORDER BY i.created_at DESC, i.id DESC LIMIT ${Number(selection.limit)}) chosen
           JOIN histograms packed ON packed.image_id = chosen.id`;
  const writer = new HistogramBlockWriter(() => pool.acquire());
  const parser = histogramRowParser(writer, true);
  try {
    await copyRows(client, chosen, parser);
    writer.seal();
  } catch (error) {
    pool.release(writer.opened);
    throw error;
  }
  return { count: writer.opened.reduce((total, block) => total + block.count, 0), blocks: writer.opened };
}

/** A parser of (image id, [user id,] 1 KB of packed bins) rows that hands them to `writer`. */
export function histogramRowParser(writer: HistogramBlockWriter, withUserIds: boolean): BinaryCopyParser {
  // Each field's value follows its 4-byte length: ids at 0 and 8, bins after the last id.
  return withUserIds
    ? new BinaryCopyParser([4, 4, ROW_BYTES], (data, at) => writer.append(data, at, at + 8, at + 16), '(image id, user id, 1 KB of bins)')
    : new BinaryCopyParser([4, ROW_BYTES], (data, at) => writer.append(data, at, null, at + 8), '(image id, 1 KB of bins)');
}
