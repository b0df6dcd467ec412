import { endianness } from 'node:os';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { HistogramStore, HistogramTile, liveTiles, newTile, TILE_ROWS } from './histogram-store';

/*
 * A snapshot file: the store's live histograms, compacted into whole tiles, written as the tiles'
 * own memory so that loading one is a copy into place.
 *   header   'DRHS', format (u32), tiles (u32), 0 (u32)
 *   tile     rows (u32), wide (u32), then its arrays: bins (16- or 32-bit), histogram, image, user
 *            and image type ids (int32), created_at (µs) and sums (float64), live (u8), each
 *            TILE_ROWS long
 *   trailer  CRC-32 of all the bytes before it (u32), 'DRHE'
 * Numbers are little-endian, this machine's order (a big-endian machine refuses snapshots).
 */
const MAGIC = 'DRHS';
const END = 'DRHE';
const FORMAT = 1;

export class SnapshotFileError extends Error {
  override name = 'SnapshotFileError';
}

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new SnapshotFileError('Histogram snapshots are little-endian; this machine is not');
}

function arraysOf(tile: HistogramTile): ArrayBufferView[] {
  return [
    tile.narrow ?? tile.wide!,
    tile.histogramIds,
    tile.imageIds,
    tile.userIds,
    tile.imageTypeIds,
    tile.createdMicros,
    tile.sums,
    tile.live,
  ];
}

const bytesOf = (array: ArrayBufferView) => Buffer.from(array.buffer, array.byteOffset, array.byteLength);

/**
 * The snapshot of `store`'s live rows as a stream. Tiles whose rows all live are written as they
 * are; the others' live rows are copied into fresh tiles one at a time. The store must not change
 * until the stream ends.
 */
export function snapshotStream(store: HistogramStore): { stream: Readable; histograms: () => number; bytes: () => number } {
  assertLittleEndian();
  let histograms = 0;
  let bytes = 0;
  async function* chunks(): AsyncGenerator<Buffer> {
    let crc = 0;
    const emit = (chunk: Buffer) => {
      crc = crc32(chunk, crc);
      bytes += chunk.length;
      return chunk;
    };
    const tiles = liveTiles(store);
    const count = Math.ceil(store.live / TILE_ROWS);
    const header = Buffer.alloc(16);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(FORMAT, 4);
    header.writeUInt32LE(count, 8);
    yield emit(header);
    let written = 0;
    for (const tile of tiles) {
      const tileHeader = Buffer.alloc(8);
      tileHeader.writeUInt32LE(tile.count, 0);
      tileHeader.writeUInt32LE(tile.wide ? 1 : 0, 4);
      yield emit(tileHeader);
      for (const array of arraysOf(tile)) yield emit(bytesOf(array));
      histograms += tile.count;
      written++;
    }
    if (written !== count) throw new SnapshotFileError(`The store changed while its snapshot was written (${written} of ${count} tiles)`);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(crc, 0);
    trailer.write(END, 4, 'latin1');
    bytes += trailer.length;
    yield trailer;
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), histograms: () => histograms, bytes: () => bytes };
}

/** Reads exact byte counts from a stream, keeping the CRC-32 of what it read. */
class ByteReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private pending: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  crc = 0;

  constructor(stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async fill(target: Uint8Array, checked = true): Promise<void> {
    for (let offset = 0; offset < target.length;) {
      if (this.pending.length === 0) {
        const next = await this.chunks.next();
        if (next.done) throw new SnapshotFileError('The histogram snapshot is truncated');
        this.pending = next.value;
      }
      const taken = this.pending.subarray(0, Math.min(this.pending.length, target.length - offset));
      target.set(taken, offset);
      if (checked) this.crc = crc32(taken, this.crc);
      this.pending = this.pending.subarray(taken.length);
      offset += taken.length;
    }
  }

  async assertEnded(): Promise<void> {
    if (this.pending.length > 0 || !(await this.chunks.next()).done)
      throw new SnapshotFileError('The histogram snapshot runs past its end');
  }
}

/** A store holding the snapshot `stream` carries; rejects with SnapshotFileError if it is not whole. */
export async function readSnapshot(stream: Readable, expectedHistograms: number): Promise<HistogramStore> {
  assertLittleEndian();
  const reader = new ByteReader(stream);
  try {
    const header = Buffer.alloc(16);
    await reader.fill(header);
    if (header.toString('latin1', 0, 4) !== MAGIC || header.readUInt32LE(4) !== FORMAT) {
      throw new SnapshotFileError('Not a histogram snapshot of this format');
    }
    const tiles = header.readUInt32LE(8);
    const store = new HistogramStore();
    for (let t = 0; t < tiles; t++) {
      const tileHeader = Buffer.alloc(8);
      await reader.fill(tileHeader);
      const tile = newTile(tileHeader.readUInt32LE(4) === 1);
      tile.count = tileHeader.readUInt32LE(0);
      if (tile.count === 0 || tile.count > TILE_ROWS || (t < tiles - 1 && tile.count !== TILE_ROWS)) {
        throw new SnapshotFileError(`The histogram snapshot's tile ${t} holds ${tile.count} rows`);
      }
      for (const array of arraysOf(tile)) await reader.fill(bytesOf(array));
      store.adoptTile(tile);
    }
    const trailer = Buffer.alloc(8);
    await reader.fill(trailer, false);
    if (trailer.readUInt32LE(0) !== reader.crc >>> 0 || trailer.toString('latin1', 4) !== END) {
      throw new SnapshotFileError('The histogram snapshot fails its checksum');
    }
    await reader.assertEnded();
    if (store.live !== expectedHistograms) {
      throw new SnapshotFileError(`The histogram snapshot holds ${store.live} histograms, not the ${expectedHistograms} recorded`);
    }
    return store;
  } finally {
    stream.destroy();
  }
}
