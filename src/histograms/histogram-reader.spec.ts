import { storedRowParser } from './histogram-reader';
import { HistogramStore, TILE_ROWS } from './histogram-store';

interface Row {
  histogramId: number;
  imageId: number;
  userId: number;
  imageTypeId: number;
  createdMicros: number;
  bins: number[];
}

/** A binary COPY of STORED_COLUMNS rows, as PostgreSQL writes it. */
function copyStream(rows: Row[]): Buffer {
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const tuples = rows.map((row) => {
    const tuple = Buffer.alloc(2 + 4 * 4 + 4 * 4 + 4 + 8 + 4 + 1024);
    tuple.writeInt16BE(6, 0);
    let at = 2;
    for (const value of [row.histogramId, row.imageId, row.userId, row.imageTypeId]) {
      tuple.writeInt32BE(4, at);
      tuple.writeInt32BE(value, at + 4);
      at += 8;
    }
    tuple.writeInt32BE(8, at);
    tuple.writeBigInt64BE(BigInt(row.createdMicros), at + 4);
    at += 12;
    tuple.writeInt32BE(1024, at);
    row.bins.forEach((value, bin) => tuple.writeInt32BE(value, at + 4 + bin * 4));
    return tuple;
  });
  return Buffer.concat([header, ...tuples, Buffer.from([0xff, 0xff])]);
}

function parseInChunks(stream: Buffer, sizes: number[], store = new HistogramStore()): HistogramStore {
  const parser = storedRowParser(store);
  for (let offset = 0, i = 0; offset < stream.length; i++) {
    const size = sizes[i % sizes.length];
    parser.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  parser.finish();
  return store;
}

const rowsOf = (count: number, scale = 1): Row[] =>
  Array.from({ length: count }, (_, i) => ({
    histogramId: 5 + i,
    imageId: 10 + i,
    userId: i % 13,
    imageTypeId: 1 + (i % 2),
    createdMicros: 1_780_000_000_000_000 + i * 1001,
    bins: Array.from({ length: 256 }, (__, bin) => ((i * 7919 + bin * 104729) % 50_000) * scale),
  }));

/** Every live row of the store, as read back from its tiles. */
function readBack(store: HistogramStore): Row[] {
  const rows: Row[] = [];
  for (const tile of store.tiles) {
    const bins = tile.narrow ?? tile.wide!;
    for (let row = 0; row < tile.count; row++) {
      if (!tile.live[row]) continue;
      rows.push({
        histogramId: tile.histogramIds[row],
        imageId: tile.imageIds[row],
        userId: tile.userIds[row],
        imageTypeId: tile.imageTypeIds[row],
        createdMicros: tile.createdMicros[row],
        bins: Array.from({ length: 256 }, (_, bin) => bins[bin * TILE_ROWS + row]),
      });
    }
  }
  return rows;
}

describe('reading histograms from a binary COPY into the store', () => {
  const rows = rowsOf(2500);
  const stream = copyStream(rows);

  it.each([[[1]], [[7, 1046, 3]], [[1066]], [[65536]], [[stream.length]], [[2, 19, 1065, 1067, 5000]]])(
    'reads every row whatever the chunk sizes (%j), into 16-bit tiles of 1,024 in shared memory',
    (sizes) => {
      const store = parseInChunks(stream, sizes);
      expect(store.live).toBe(2500);
      expect(store.tiles.map((tile) => [tile.count, tile.wide === null])).toEqual([
        [1024, true],
        [1024, true],
        [452, true],
      ]);
      expect(store.tiles[0].narrow!.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(readBack(store)).toEqual(rows);
    },
  );

  it('widens a tile to 32 bits for a count above 65535, keeping the rows it holds', () => {
    const narrow = rowsOf(3);
    const wide = rowsOf(2, 100).map((row) => ({ ...row, histogramId: row.histogramId + 100 }));
    const store = parseInChunks(copyStream([...narrow, ...wide]), [999]);
    expect(store.tiles.map((tile) => tile.wide !== null)).toEqual([true]);
    expect(readBack(store)).toEqual([...narrow, ...wide]);
  });

  it('updates a row read again in place, replaces one whose bins changed, and forgets a deleted one', () => {
    const store = parseInChunks(copyStream(rowsOf(4)), [4096]);
    const [first, second, third] = rowsOf(4);
    parseInChunks(
      copyStream([
        { ...first, userId: 99 },
        { ...second, bins: second.bins.map((value) => value + 1) },
      ]),
      [4096],
      store,
    );
    store.remove(third.histogramId);
    expect(store.live).toBe(3);
    expect(store.slots).toBe(5);
    expect(readBack(store).map((row) => [row.histogramId, row.userId, row.bins[0]])).toEqual([
      [first.histogramId, 99, first.bins[0]],
      [8, rowsOf(4)[3].userId, rowsOf(4)[3].bins[0]],
      [second.histogramId, second.userId, second.bins[0] + 1],
    ]);
  });

  it('refuses a negative count, naming the histogram', () => {
    const [row] = rowsOf(1);
    expect(() => parseInChunks(copyStream([{ ...row, bins: row.bins.map((value, bin) => (bin === 3 ? -1 : value)) }]), [4096])).toThrow(
      'Histogram 5 has a negative count (-1) in bin 3',
    );
  });

  it('refuses a stream cut short, rows of another shape, and another header', () => {
    const cut = storedRowParser(new HistogramStore());
    cut.push(stream.subarray(0, 5000));
    expect(() => cut.finish()).toThrow('ended without its trailer');
    const odd = copyStream(rows.slice(0, 2));
    odd.writeInt32BE(1020, 19 + 2 + 16 * 2 + 12);
    expect(() => storedRowParser(new HistogramStore()).push(odd)).toThrow('not (histogram id, image id, user id');
    expect(() => storedRowParser(new HistogramStore()).push(Buffer.from('image_id,bins\n1,{1,2}\n'))).toThrow('unexpected header');
  });
});
