import { endianness } from 'node:os';
import { Readable } from 'node:stream';
import { FunctionThreads } from '../common/function-threads';
import { HistogramStore, HistogramTile, liveTiles, newTile, TILE_ROWS } from './histogram-store';

/*
 * A snapshot file: the store's live histograms, compacted into whole tiles, written as the tiles'
 * own memory so that loading one is a copy into place.
 *   header   'DRHS', format (u32), tiles (u32), 0 (u32)
 *   tile     rows (u32), wide (u32), CRC-32 of its arrays (u32), 0 (u32), then its arrays: bins
 *            (16- or 32-bit), histogram, image, user and image type ids (int32), created_at (µs)
 *            and sums (float64), live (u8), each TILE_ROWS long
 *   trailer  tiles (u32), 'DRHE'
 * Each tile has a checksum of its own so that a reader checks tiles on other threads while it
 * reads the next ones.
 * Numbers are little-endian, this machine's order (a big-endian machine refuses snapshots).
 */
const MAGIC = 'DRHS';
const END = 'DRHE';
const FORMAT = 1;

export class SnapshotFileError extends Error {
  override name = 'SnapshotFileError';
}

/**
 * The CRC-32 (zlib's) of `arrays` one after another: a tile's checksum. A reader runs it on other
 * threads, from its source, so it requires zlib itself.
 */
function crcOfArrays(arrays: ArrayBufferView[]): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- runs in a thread from its own source
  const { crc32 } = require('node:zlib') as typeof import('node:zlib');
  let crc = 0;
  for (const array of arrays) crc = crc32(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), crc);
  return crc;
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
    const tiles = liveTiles(store);
    const count = Math.ceil(store.live / TILE_ROWS);
    const header = Buffer.alloc(16);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(FORMAT, 4);
    header.writeUInt32LE(count, 8);
    bytes += header.length;
    yield header;
    let written = 0;
    for (const tile of tiles) {
      const arrays = arraysOf(tile).map(bytesOf);
      const tileHeader = Buffer.alloc(16);
      tileHeader.writeUInt32LE(tile.count, 0);
      tileHeader.writeUInt32LE(tile.wide ? 1 : 0, 4);
      tileHeader.writeUInt32LE(crcOfArrays(arrays), 8);
      bytes += tileHeader.length;
      yield tileHeader;
      for (const array of arrays) {
        bytes += array.length;
        yield array;
      }
      histograms += tile.count;
      written++;
    }
    if (written !== count) throw new SnapshotFileError(`The store changed while its snapshot was written (${written} of ${count} tiles)`);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(count, 0);
    trailer.write(END, 4, 'latin1');
    bytes += trailer.length;
    yield trailer;
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), histograms: () => histograms, bytes: () => bytes };
}

/** Reads exact byte counts from a stream. */
class ByteReader {
  private readonly chunks: AsyncIterator<Buffer>;
  private pending: Buffer<ArrayBufferLike> = Buffer.alloc(0);

  constructor(stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  async fill(target: Buffer): Promise<void> {
    for (let offset = 0; offset < target.length;) {
      if (this.pending.length === 0) {
        const next = await this.chunks.next();
        if (next.done) throw new SnapshotFileError('The histogram snapshot is truncated');
        this.pending = next.value;
      }
      const taken = this.pending.subarray(0, Math.min(this.pending.length, target.length - offset));
      taken.copy(target, offset);
      this.pending = this.pending.subarray(taken.length);
      offset += taken.length;
    }
  }

  async assertEnded(): Promise<void> {
    if (this.pending.length > 0 || !(await this.chunks.next()).done)
      throw new SnapshotFileError('The histogram snapshot runs past its end');
  }
}

/**
 * A store holding the snapshot `stream` carries; rejects with SnapshotFileError if it is not whole.
 * Each tile's checksum is checked on other threads while the next tiles are read.
 */
export async function readSnapshot(stream: Readable, expectedHistograms: number): Promise<HistogramStore> {
  assertLittleEndian();
  const reader = new ByteReader(stream);
  const checksums = new FunctionThreads({ crcOfArrays }, undefined, 'checksum thread');
  const checks: Promise<void>[] = [];
  try {
    const header = Buffer.alloc(16);
    await reader.fill(header);
    if (header.toString('latin1', 0, 4) !== MAGIC || header.readUInt32LE(4) !== FORMAT) {
      throw new SnapshotFileError('Not a histogram snapshot of this format');
    }
    const tiles = header.readUInt32LE(8);
    const store = new HistogramStore();
    for (let t = 0; t < tiles; t++) {
      const tileHeader = Buffer.alloc(16);
      await reader.fill(tileHeader);
      const tile = newTile(tileHeader.readUInt32LE(4) === 1);
      tile.count = tileHeader.readUInt32LE(0);
      if (tile.count === 0 || tile.count > TILE_ROWS || (t < tiles - 1 && tile.count !== TILE_ROWS)) {
        throw new SnapshotFileError(`The histogram snapshot's tile ${t} holds ${tile.count} rows`);
      }
      const arrays = arraysOf(tile);
      for (const array of arrays) await reader.fill(bytesOf(array));
      const expectedCrc = tileHeader.readUInt32LE(8);
      const check = checksums.run('crcOfArrays', arrays).then((crc) => {
        if (crc !== expectedCrc) throw new SnapshotFileError(`The histogram snapshot's tile ${t} fails its checksum`);
      });
      // Awaited below; until then a failure must not count as unhandled.
      check.catch(() => undefined);
      checks.push(check);
      store.adoptTile(tile);
    }
    const trailer = Buffer.alloc(8);
    await reader.fill(trailer);
    if (trailer.readUInt32LE(0) !== tiles || trailer.toString('latin1', 4) !== END) {
      throw new SnapshotFileError('The histogram snapshot does not end as it should');
    }
    await reader.assertEnded();
    await Promise.all(checks);
    if (store.live !== expectedHistograms) {
      throw new SnapshotFileError(`The histogram snapshot holds ${store.live} histograms, not the ${expectedHistograms} recorded`);
    }
    return store;
  } finally {
    stream.destroy();
    await checksums.close();
  }
}
