import { HistogramBlockPool } from './histogram-block-pool';
import { HistogramCopyParser } from './histogram-reader';

/** A binary COPY of (image id, user id, bins packed big-endian) rows, as PostgreSQL writes it. */
function copyStream(rows: { imageId: number; userId: number; bins: number[] }[]): Buffer {
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const tuples = rows.map(({ imageId, userId, bins }) => {
    const tuple = Buffer.alloc(2 + 8 + 8 + 4 + 1024);
    tuple.writeInt16BE(3, 0);
    tuple.writeInt32BE(4, 2);
    tuple.writeInt32BE(imageId, 6);
    tuple.writeInt32BE(4, 10);
    tuple.writeInt32BE(userId, 14);
    tuple.writeInt32BE(1024, 18);
    bins.forEach((value, bin) => tuple.writeInt32BE(value, 22 + bin * 4));
    return tuple;
  });
  return Buffer.concat([header, ...tuples, Buffer.from([0xff, 0xff])]);
}

function parseInChunks(stream: Buffer, sizes: number[]) {
  const parser = new HistogramCopyParser(new HistogramBlockPool());
  for (let offset = 0, i = 0; offset < stream.length; i++) {
    const size = sizes[i % sizes.length];
    parser.push(stream.subarray(offset, offset + size));
    offset += size;
  }
  return parser.finish();
}

describe('HistogramCopyParser', () => {
  const rows = Array.from({ length: 2500 }, (_, i) => ({
    imageId: 10 + i,
    userId: i % 13,
    bins: Array.from({ length: 256 }, (__, bin) => (i * 7919 + bin * 104729) % 5_000_000),
  }));
  const stream = copyStream(rows);

  it.each([[[1]], [[7, 1046, 3]], [[1046]], [[65536]], [[stream.length]], [[2, 19, 1045, 1047, 5000]]])(
    'reads every row whatever the chunk sizes (%j)',
    (sizes) => {
      const { count, blocks } = parseInChunks(stream, sizes);
      expect(count).toBe(rows.length);
      expect(blocks.map((block) => block.count)).toEqual([2500]);
      const misread = [];
      let row = 0;
      for (const block of blocks) {
        for (let i = 0; i < block.count; i++, row++) {
          const { imageId, userId, bins } = rows[row];
          const read = block.bins.subarray(i * 256, (i + 1) * 256);
          if (block.imageIds[i] !== imageId || block.userIds[i] !== userId || bins.some((value, bin) => read[bin] !== value)) misread.push(row);
        }
      }
      expect(misread).toEqual([]);
    },
  );

  it('fills blocks of 16,384 rows in shared memory, and reuses the blocks given back', () => {
    const pool = new HistogramBlockPool();
    const one = copyStream([{ imageId: 1, userId: 1, bins: Array(256).fill(1) }]);
    const row = one.subarray(19, one.length - 2);
    const read = () => {
      const parser = new HistogramCopyParser(pool);
      parser.push(one.subarray(0, 19));
      for (let pushed = 0; pushed < 20_000; pushed += 1000) parser.push(Buffer.concat(Array(1000).fill(row)));
      parser.push(Buffer.from([0xff, 0xff]));
      return parser.finish().blocks;
    };
    const first = read();
    expect(first.map((block) => block.count)).toEqual([16384, 3616]);
    expect(first.every((block) => block.bins.buffer instanceof SharedArrayBuffer)).toBe(true);
    pool.release(first);
    expect(pool.idle).toBe(2);
    const second = read();
    expect(second.map((block) => block.count)).toEqual([16384, 3616]);
    expect(new Set([...first, ...second].map((block) => block.bins.buffer)).size).toBe(2);
    expect(pool.idle).toBe(0);
  });

  it('reads an empty selection', () => {
    expect(parseInChunks(copyStream([]), [5])).toEqual({ count: 0, blocks: [] });
  });

  it('refuses a stream cut short', () => {
    const parser = new HistogramCopyParser(new HistogramBlockPool());
    parser.push(stream.subarray(0, 5000));
    expect(() => parser.finish()).toThrow('ended without its trailer');
  });

  it('refuses rows of another shape', () => {
    const parser = new HistogramCopyParser(new HistogramBlockPool());
    const odd = copyStream(rows.slice(0, 2));
    odd.writeInt32BE(1020, 19 + 18);
    expect(() => parser.push(odd)).toThrow('not (image id, user id, 1 KB of bins)');
  });
});
