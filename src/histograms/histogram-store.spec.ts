import { Readable } from 'node:stream';
import { readSnapshot, SnapshotFileError, snapshotStream } from './histogram-snapshot-file';
import { HistogramRowMeta, HistogramStore, StoreFilter, TILE_ROWS } from './histogram-store';

const every: StoreFilter = { userId: null, imageTypeId: null, sinceMicros: null, limit: null };

function put(store: HistogramStore, meta: HistogramRowMeta, fill: (bin: number) => number): void {
  const packed = Buffer.alloc(1024);
  for (let bin = 0; bin < 256; bin++) packed.writeInt32BE(fill(bin), bin * 4);
  store.putPacked(meta, packed, 0);
}

/** Histogram i: image 100 + i, user i % 3, type 1 + i % 2, created at (i % 50) µs; bins large for every 700th. */
function storeOf(count: number): HistogramStore {
  const store = new HistogramStore();
  for (let i = 1; i <= count; i++) {
    put(store, { histogramId: i, imageId: 100 + i, userId: i % 3, imageTypeId: 1 + (i % 2), createdMicros: i % 50 }, (bin) =>
      i % 700 === 0 ? 70_000 + bin : (i * 31 + bin) % 1000,
    );
  }
  return store;
}

/** The image ids a selection marks, ascending. */
function picked(store: HistogramStore, filter: StoreFilter): number[] {
  const { mask, count, tileCounts } = store.select(filter);
  const ids: number[] = [];
  store.tiles.forEach((tile, t) => {
    let inTile = 0;
    for (let row = 0; row < tile.count; row++) {
      if (mask[t * TILE_ROWS + row]) {
        ids.push(tile.imageIds[row]);
        inTile++;
      }
    }
    expect(tileCounts[t]).toBe(inTile);
  });
  expect(ids).toHaveLength(count);
  return ids.sort((a, b) => a - b);
}

/** What SQL would pick: filters, then ORDER BY created_at DESC, id DESC LIMIT n. */
function reference(count: number, filter: StoreFilter, deleted: Set<number> = new Set()): number[] {
  const rows = Array.from({ length: count }, (_, k) => k + 1)
    .filter((i) => !deleted.has(i))
    .filter((i) => filter.userId === null || i % 3 === filter.userId)
    .filter((i) => filter.imageTypeId === null || 1 + (i % 2) === filter.imageTypeId)
    .filter((i) => filter.sinceMicros === null || i % 50 >= filter.sinceMicros)
    .sort((a, b) => (b % 50) - (a % 50) || b - a);
  return rows
    .slice(0, filter.limit ?? rows.length)
    .map((i) => 100 + i)
    .sort((a, b) => a - b);
}

describe('the histogram store', () => {
  it.each<[string, StoreFilter]>([
    ['every row', every],
    ['one user', { ...every, userId: 1 }],
    ['one image type', { ...every, imageTypeId: 2 }],
    ['a type that does not exist', { ...every, imageTypeId: -1 }],
    ['a time', { ...every, sinceMicros: 45 }],
    ['the newest 7, ties on time by image id', { ...every, limit: 7 }],
    ['the newest 130 of one user since a time', { ...every, userId: 2, sinceMicros: 10, limit: 130 }],
    ['a limit above the rows', { ...every, userId: 0, limit: 100_000 }],
  ])('selects %s as SQL would', (_, filter) => {
    const store = storeOf(2100);
    const expected = filter.imageTypeId === -1 ? [] : reference(2100, filter);
    expect(picked(store, filter)).toEqual(expected);
    const deleted = new Set([5, 49, 50, 1500]);
    for (const id of deleted) store.remove(id);
    expect(picked(store, filter)).toEqual(filter.imageTypeId === -1 ? [] : reference(2100, filter, deleted));
  });

  it('writes its live rows to a snapshot, compacted, and reads them back whole', async () => {
    const store = storeOf(2500);
    for (const id of [3, 1024, 1400, 2100]) store.remove(id);
    const snapshot = snapshotStream(store);
    const chunks: Buffer[] = [];
    for await (const chunk of snapshot.stream) chunks.push(chunk as Buffer);
    const file = Buffer.concat(chunks);
    expect(snapshot.histograms()).toBe(2496);
    expect(snapshot.bytes()).toBe(file.length);
    const loaded = await readSnapshot(Readable.from([file.subarray(0, 1000), file.subarray(1000)]), 2496);
    expect(loaded.live).toBe(2496);
    expect(loaded.slots).toBe(2496);
    expect(loaded.tiles.map((tile) => [tile.count, tile.wide !== null])).toEqual([
      [1024, true],
      [1024, false],
      [448, false],
    ]);
    for (const filter of [every, { ...every, userId: 1, limit: 40 }]) expect(picked(loaded, filter)).toEqual(picked(store, filter));
    const original = store.select(every);
    const copy = loaded.select(every);
    const binsOf = (selected: typeof original, imageId: number) => {
      for (const [t, tile] of selected.tiles.entries()) {
        for (let row = 0; row < tile.count; row++) {
          if (selected.mask[t * TILE_ROWS + row] && tile.imageIds[row] === imageId) {
            const values = tile.narrow ?? tile.wide!;
            return Array.from({ length: 256 }, (__, bin) => values[bin * TILE_ROWS + row]);
          }
        }
      }
      return null;
    };
    for (const imageId of [101, 800, 1500, 2600]) expect(binsOf(copy, imageId)).toEqual(binsOf(original, imageId));
    // A histogram put after loading goes after the snapshot's last tile.
    put(loaded, { histogramId: 9000, imageId: 9000, userId: 1, imageTypeId: 1, createdMicros: 1 }, () => 1);
    expect(loaded.live).toBe(2497);
  });

  it('refuses a snapshot cut short, damaged or of another count', async () => {
    const store = storeOf(30);
    const chunks: Buffer[] = [];
    for await (const chunk of snapshotStream(store).stream) chunks.push(chunk as Buffer);
    const file = Buffer.concat(chunks);
    await expect(readSnapshot(Readable.from([file.subarray(0, file.length - 100)]), 30)).rejects.toThrow(SnapshotFileError);
    const damaged = Buffer.from(file);
    damaged[5000] ^= 1;
    await expect(readSnapshot(Readable.from([damaged]), 30)).rejects.toThrow('fails its checksum');
    await expect(readSnapshot(Readable.from([file]), 31)).rejects.toThrow('holds 30 histograms, not the 31 recorded');
    await expect(readSnapshot(Readable.from([Buffer.concat([file, Buffer.from([0])])]), 30)).rejects.toThrow('runs past its end');
  });
});
