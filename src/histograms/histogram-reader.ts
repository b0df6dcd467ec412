import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { Selection } from '../common/selection/selection';
import { HistogramBlockPool } from './histogram-block-pool';

/**
 * A run of histograms in shared memory, which several threads can reduce where it lies: `count`
 * rows of 256 bins in `bins`, with each row's image and user.
 */
export interface HistogramBlock {
  count: number;
  bins: Int32Array;
  imageIds: Int32Array;
  userIds: Int32Array;
}

export interface SelectedHistograms {
  count: number;
  blocks: HistogramBlock[];
}

const ROW_BYTES = 256 * 4;
// PGCOPY signature (11 bytes), flags (4), header extension length (4).
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const COPY_HEADER_BYTES = 19;
// Field count (2), then image id, user id and packed bins, each a 4-byte length and its bytes.
const TUPLE_BYTES = 2 + (4 + 4) + (4 + 4) + (4 + ROW_BYTES);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Reads the histograms a selection picks (the newest n when it limits them) in one statement, so
 * from one snapshot: the result is exactly what the database held when the read began, however
 * many histograms arrive meanwhile. The packed bins stream in a binary COPY and each row's 1 KB is
 * copied straight into place: no ORM entity, no row objects, no text, and no count beforehand,
 * since blocks are taken from the pool as rows arrive. Rows come in no particular order. The
 * caller gives the blocks back to the pool when it is done with them.
 */
export async function readSelectedHistograms(dataSource: DataSource, selection: Selection, pool: HistogramBlockPool): Promise<SelectedHistograms> {
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as PoolClient;
  // COPY takes no bind parameters: the selection's values are written as escaped literals.
  const filters = `
      FROM histograms h
      JOIN images i ON i.id = h.image_id
     WHERE TRUE
       ${selection.since ? `AND i.created_at >= ${client.escapeLiteral(selection.since.toISOString())}::timestamptz` : ''}
       ${selection.userId !== null ? `AND i.user_id = ${Number(selection.userId)}` : ''}
       ${selection.imageType !== null ? `AND i.image_type_id = (SELECT id FROM image_types WHERE type_name = ${client.escapeLiteral(selection.imageType)})` : ''}`;
  // Order matters only to pick the newest n; the reducers' results do not depend on it. So
  // all-histogram reads stream unsorted, and limited ones sort the keys, not 1 KB payloads.
  const chosen =
    selection.limit === null
      ? `SELECT i.id, i.user_id, h.bins_packed ${filters}`
      : `SELECT chosen.id, chosen.user_id, packed.bins_packed
           FROM (SELECT i.id, i.user_id ${filters} ORDER BY i.created_at DESC, i.id DESC LIMIT ${Number(selection.limit)}) chosen
           JOIN histograms packed ON packed.image_id = chosen.id`;
  const parser = new HistogramCopyParser(pool);
  try {
    await consume(client.query(copyTo(`COPY (${chosen}) TO STDOUT (FORMAT binary)`)), (chunk) => parser.push(chunk));
    return parser.finish();
  } catch (error) {
    pool.release(parser.blocks);
    throw error;
  } finally {
    await runner.release();
  }
}

/**
 * Feeds every chunk to `take` as it arrives ('data' events cost less than async iteration over
 * ~100,000 chunks). A chunk `take` refuses fails the read once the stream has ended, so that the
 * connection goes back to the pool between statements, ready for the next.
 */
function consume(stream: Readable, take: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let refused: unknown = null;
    stream.on('data', (chunk: Buffer) => {
      if (refused) return;
      try {
        take(chunk);
      } catch (error) {
        refused = error;
      }
    });
    stream.once('error', reject);
    stream.once('end', () => (refused ? reject(refused) : resolve()));
  });
}

/**
 * Parses a binary COPY of (int4 image id, int4 user id, bytea bins_packed) rows into blocks. Rows
 * are a fixed 1,046 bytes, so whole rows are read in place from each chunk, and only a row split
 * between two chunks is put together in a carry buffer.
 */
export class HistogramCopyParser {
  readonly blocks: HistogramBlock[] = [];
  private readonly carry = Buffer.alloc(TUPLE_BYTES);
  private carried = 0;
  private inHeader = true;
  private ended = false;
  private block: HistogramBlock | null = null;
  private blockBytes: Buffer<ArrayBufferLike> = Buffer.alloc(0);

  constructor(private readonly pool: HistogramBlockPool) {}

  push(chunk: Buffer): void {
    if (this.ended) return;
    let offset = 0;
    while ((this.carried > 0 || this.inHeader) && offset < chunk.length) {
      const take = Math.min((this.inHeader ? COPY_HEADER_BYTES : TUPLE_BYTES) - this.carried, chunk.length - offset);
      chunk.copy(this.carry, this.carried, offset, offset + take);
      this.carried += take;
      offset += take;
      if (!this.inHeader && this.carried >= 2 && this.carry.readInt16BE(0) === -1) {
        this.ended = true;
        return;
      }
      if (this.inHeader && this.carried === COPY_HEADER_BYTES) {
        this.readHeader(this.carry);
        this.carried = 0;
      } else if (this.carried === TUPLE_BYTES) {
        this.readRow(this.carry, 0);
        this.carried = 0;
      }
    }
    while (chunk.length - offset >= 2) {
      if (chunk.readInt16BE(offset) === -1) {
        this.ended = true;
        return;
      }
      if (chunk.length - offset < TUPLE_BYTES) break;
      this.readRow(chunk, offset);
      offset += TUPLE_BYTES;
    }
    chunk.copy(this.carry, this.carried, offset);
    this.carried += chunk.length - offset;
  }

  finish(): SelectedHistograms {
    if (!this.ended) throw new Error('The histogram COPY stream ended without its trailer');
    this.sealBlock();
    return { count: this.blocks.reduce((total, block) => total + block.count, 0), blocks: this.blocks };
  }

  private readHeader(header: Buffer): void {
    if (!header.subarray(0, COPY_SIGNATURE.length).equals(COPY_SIGNATURE) || header.readUInt32BE(15) !== 0) {
      throw new Error('The histogram COPY stream has an unexpected header');
    }
    this.inHeader = false;
  }

  private readRow(data: Buffer, at: number): void {
    if (data.readInt16BE(at) !== 3 || data.readInt32BE(at + 2) !== 4 || data.readInt32BE(at + 10) !== 4 || data.readInt32BE(at + 18) !== ROW_BYTES) {
      throw new Error('The histogram COPY stream has a row that is not (image id, user id, 1 KB of bins)');
    }
    let block = this.block;
    if (!block || block.count === block.imageIds.length) block = this.openBlock();
    block.imageIds[block.count] = data.readInt32BE(at + 6);
    block.userIds[block.count] = data.readInt32BE(at + 14);
    data.copy(this.blockBytes, block.count * ROW_BYTES, at + 22, at + 22 + ROW_BYTES);
    block.count++;
  }

  private openBlock(): HistogramBlock {
    this.sealBlock();
    this.block = this.pool.acquire();
    this.blockBytes = Buffer.from(this.block.bins.buffer);
    this.blocks.push(this.block);
    return this.block;
  }

  /** Bins are packed big-endian, as int4send writes them: a block is put in this machine's order once it is full. */
  private sealBlock(): void {
    if (this.block && LITTLE_ENDIAN) this.blockBytes.subarray(0, this.block.count * ROW_BYTES).swap32();
    this.block = null;
  }
}
